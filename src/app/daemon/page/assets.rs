//! The page's one inline script and one inline style, and the
//! Content-Security-Policy that allows exactly these two by their hashes.

use std::sync::OnceLock;

use base64::Engine as _;

/// The one inline script: hides the entry rows that do not contain the
/// typed text. It only ever hides rows, so without it every row shows.
pub const SCRIPT: &str = r#"
(function () {
  var input = document.getElementById("filter");
  if (!input) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-entry]"));
  var count = document.getElementById("filter-count");
  function apply() {
    var wanted = input.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var hit = wanted === "" || row.getAttribute("data-entry").toLowerCase().indexOf(wanted) !== -1;
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + rows.length + " entries shown"; }
  }
  input.addEventListener("input", apply);
  apply();
})();
"#;

/// The one inline style sheet. Every status also carries a word and a
/// symbol, so the colours here are never the only signal.
pub const STYLE: &str = r#"
:root { --good: #1a7f37; --warn: #8a5300; --bad: #b3261e; --quiet: #57606a; --line: #d0d7de; --soft: #f6f8fa; --ink: #1f2328; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
header.top, main { max-width: 80rem; margin: 0 auto; padding-left: 1.5rem; padding-right: 1.5rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1.5rem; padding-top: 1rem; padding-bottom: .75rem; border-bottom: 1px solid var(--line); }
header.top p { margin: 0; color: var(--quiet); }
h1 { font-size: 1.5rem; margin: 0; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; }
section { margin-bottom: 1.5rem; }
.banner { margin-top: 1rem; padding: .75rem 1rem; border: 1px solid var(--line); border-left: .5rem solid var(--quiet); border-radius: .375rem; background: var(--soft); }
.banner.good { border-left-color: var(--good); }
.banner.warn { border-left-color: var(--warn); }
.banner.bad { border-left-color: var(--bad); }
.banner h2 { margin: 0 0 .25rem; }
.banner p { margin: .25rem 0; }
.facts { margin: .5rem 0 0; padding-left: 1.25rem; }
.failure h3 { font-size: 1rem; margin: .75rem 0 .25rem; }
.failure pre { margin: 0; padding: .5rem .75rem; white-space: pre-wrap; overflow-wrap: anywhere; background: #fff; border: 1px solid var(--line); border-radius: .25rem; }
.table-wrap { overflow-x: auto; margin-bottom: 1rem; border: 1px solid var(--line); border-radius: .375rem; }
table { width: 100%; border-collapse: collapse; font-size: .9375rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .5rem .75rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .75rem; border-top: 1px solid var(--line); }
thead th { background: var(--soft); white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .875rem; }
.msg { min-width: 16rem; overflow-wrap: anywhere; }
.sub { display: block; color: var(--quiet); font-size: .875rem; overflow-wrap: break-word; }
.badge { font-weight: 600; white-space: nowrap; }
.badge.good { color: var(--good); }
.badge.warn { color: var(--warn); }
.badge.bad { color: var(--bad); }
.badge.info, .badge.quiet { color: var(--quiet); }
.rel { color: var(--quiet); }
.nowrap { white-space: nowrap; }
dl.ea { display: grid; grid-template-columns: auto 1fr; gap: 0 .5rem; margin: .25rem 0 0; font-size: .875rem; }
dl.ea dt { color: var(--quiet); }
dl.ea dd { margin: 0; overflow-wrap: anywhere; }
.filter { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-bottom: .25rem; }
.filter input { font: inherit; width: 22rem; max-width: 100%; padding: .35rem .5rem; border: 1px solid #8c959f; border-radius: .25rem; }
#filter-count { margin: 0 0 .5rem; color: var(--quiet); }
button { font: inherit; font-weight: 600; padding: .4rem 1.1rem; color: #fff; background: #0969da; border: 1px solid #0969da; border-radius: .25rem; cursor: pointer; }
button:hover { background: #0550ae; }
button:focus-visible, input:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.chart { display: block; width: 100%; max-width: 48rem; height: auto; margin-bottom: 1rem; }
.vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  header.top, main { padding-left: .75rem; padding-right: .75rem; }
  h2 { margin-top: 1.5rem; }
  th, td { padding: .35rem .5rem; }
  .msg { min-width: 0; }
  /* One card per row: each cell says which column it is. */
  table.stack thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.stack tr { display: block; border-top: 1px solid var(--line); padding: .35rem 0; }
  table.stack td { display: block; border-top: 0; padding: .1rem .5rem; text-align: left; white-space: normal; }
  table.stack td::before { content: attr(data-label) ": "; color: var(--quiet); font-size: .8125rem; font-weight: 600; }
}
"#;

/// The policy that lets exactly [`SCRIPT`] and [`STYLE`] run and nothing
/// else: no other script or style, no inline attribute, no frame, and forms
/// post only back to the daemon.
pub fn content_security_policy() -> String {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY
        .get_or_init(|| {
            format!(
                "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
                 img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                sha256_base64(SCRIPT),
                sha256_base64(STYLE)
            )
        })
        .clone()
}

/// The CSP source hash: a browser hashes the element's exact text.
pub(super) fn sha256_base64(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}
