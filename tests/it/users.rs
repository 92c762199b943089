//! `itsmid users` end to end: each subcommand, and the form's rules that
//! refuse a change (exit 2, the file byte-for-byte unchanged).

use serde_json::Value;

use crate::support::{BOT, World};

const FILE: &str = r#"# Manual users, kept by the service desk.
[bot]
unique_record_id = "moveworks-bot@acme.com"
[[bot.itsm]]
integration = "snow"
external_id = "moveworks.bot"

[[users]]
email_addr = "pat@acme.com"   # primary
unique_record_id = "pat@acme.com"
full_name = "Pat Lee"
work_status = "CONTINGENT"
[[users.itsm]]
integration = "snow"
external_id = "pat.lee"
"#;

fn file(world: &World) -> String {
    std::fs::read_to_string(world.path().join("identities.toml")).expect("the identities file")
}

async fn users(world: &World, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["users"];
    all.extend_from_slice(args);
    let output = world.run(&all).await;
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_show_print_the_manual_users() {
    let world = World::start().await;
    world.write_identities(FILE);
    let (code, out, _) = users(&world, &["list", "--format", "json"]).await;
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["unique_record_id"], "pat@acme.com");
    assert_eq!(list[0]["itsm"][0]["external_id"], "pat.lee");
    let (code, out, _) = users(&world, &["show", "pat@acme.com", "--format", "json"]).await;
    assert_eq!(code, 0);
    let pat: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pat["work_status"], "CONTINGENT");
    let (code, _, err) = users(&world, &["show", "nobody@acme.com"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("no manual user"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn add_appends_a_user_and_leaves_the_rest_of_the_file_as_it_was() {
    let world = World::start().await;
    world.write_identities(FILE);
    let (code, _, err) = users(
        &world,
        &[
            "add",
            "--unique-record-id",
            "kim@acme.com",
            "--email-addr",
            "kim@acme.com",
            "--full-name",
            "Kim Lee",
            "--work-status",
            "INTERN",
            "--user-tag",
            "BASIC_USER",
            "--itsm",
            "integration=jira_service_desk,external_id=kim@acme.com",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let text = file(&world);
    assert!(
        text.starts_with(FILE),
        "the existing lines are untouched:\n{text}"
    );
    assert!(text.contains("unique_record_id = \"kim@acme.com\""));
    assert!(
        text.contains("[[users.itsm]]\nintegration = \"jira_service_desk\""),
        "{text}"
    );
    let output = world.run(&["lint", "--format", "json"]).await;
    let lint: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(lint["identities"], 3, "{lint:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn add_from_json_reads_the_fields_from_a_file() {
    let world = World::start().await;
    world.write_identities(FILE);
    std::fs::write(
        world.path().join("kim.json"),
        r#"{"unique_record_id": "kim@acme.com", "email_addr": "kim@acme.com", "full_name": "Kim Lee",
            "itsm": [{"integration": "snow", "external_id": "kim.lee"}]}"#,
    )
    .unwrap();
    let (code, _, err) = users(&world, &["add", "--from-json", "kim.json"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(file(&world).contains("external_id = \"kim.lee\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn add_refuses_what_the_form_refuses_and_writes_nothing() {
    let world = World::start().await;
    world.write_identities(FILE);
    let cases: &[(&[&str], &str)] = &[
        (
            &["add", "--email-addr", "x@acme.com", "--full-name", "X"],
            "--unique-record-id is required",
        ),
        (
            &[
                "add",
                "--unique-record-id",
                "pat@acme.com",
                "--email-addr",
                "p@acme.com",
                "--full-name",
                "P",
            ],
            "already used",
        ),
        (
            &[
                "add",
                "--unique-record-id",
                "moveworks-bot@acme.com",
                "--email-addr",
                "b@acme.com",
                "--full-name",
                "B",
            ],
            "the bot",
        ),
        (
            &[
                "add",
                "--unique-record-id",
                "x@acme.com",
                "--email-addr",
                "x@acme.com",
                "--full-name",
                "X",
                "--work-status",
                "PART_TIME",
            ],
            "PART_TIME",
        ),
        (
            &[
                "add",
                "--unique-record-id",
                "x@acme.com",
                "--email-addr",
                "x@acme.com",
                "--full-name",
                "X",
                "--user-tag",
                "BOSS",
            ],
            "BOSS",
        ),
        (
            &[
                "add",
                "--unique-record-id",
                "x@acme.com",
                "--email-addr",
                "x@acme.com",
                "--full-name",
                "X",
                "--custom",
                "office=4",
            ],
            "not registered",
        ),
        (
            &[
                "add",
                "--unique-record-id",
                "x@acme.com",
                "--email-addr",
                "x@acme.com",
                "--full-name",
                "X",
                "--itsm",
                "integration=SNOW,external_id=x",
            ],
            "did you mean \"snow\"",
        ),
        (
            &[
                "add",
                "--unique-record-id",
                "x@acme.com",
                "--email-addr",
                "x@acme.com",
                "--full-name",
                "X",
                "--itsm",
                "integration=snow,external_id=x",
                "--itsm",
                "integration=snow,external_id=y",
            ],
            "one entry per ticketing system",
        ),
        (
            &["add", "--unique-record-id", "x@acme.com"],
            "--email-addr is required",
        ),
    ];
    for (args, expected) in cases {
        let (code, _, err) = users(&world, args).await;
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err}"
        );
        assert_eq!(file(&world), FILE, "{args:?} wrote to the file");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_changes_only_the_given_fields() {
    let world = World::start().await;
    world.write_identities(FILE);
    let (code, _, err) = users(
        &world,
        &[
            "edit",
            "pat@acme.com",
            "--work-status",
            "FULL_TIME",
            "--itsm",
            "integration=jira_service_desk,external_id=pat@acme.com",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let text = file(&world);
    assert!(text.contains("work_status = \"FULL_TIME\""), "{text}");
    assert!(
        text.contains("email_addr = \"pat@acme.com\"   # primary"),
        "a kept value keeps its comment:\n{text}"
    );
    assert!(text.contains("external_id = \"pat.lee\""));
    assert!(text.contains("integration = \"jira_service_desk\""));
    let (code, _, err) = users(
        &world,
        &["edit", "pat@acme.com", "--remove-itsm", "jira_service_desk"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(!file(&world).contains("jira_service_desk"));
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_refuses_an_invalid_change_and_writes_nothing() {
    let world = World::start().await;
    world.write_identities(FILE);
    for (args, expected) in [
        (
            vec!["edit", "pat@acme.com", "--work-status", "SOMETIMES"],
            "SOMETIMES",
        ),
        (
            vec![
                "edit",
                "pat@acme.com",
                "--unique-record-id",
                "moveworks-bot@acme.com",
            ],
            "already used",
        ),
        (
            vec!["edit", "pat@acme.com", "--remove-itsm", "jira_service_desk"],
            "no entry for that integration",
        ),
        (
            vec!["edit", "nobody@acme.com", "--full-name", "N"],
            "no manual user",
        ),
    ] {
        let (code, _, err) = users(&world, &args).await;
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(file(&world), FILE);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_deletes_the_user_and_nothing_else() {
    let world = World::start().await;
    world.write_identities(&format!(
        "{FILE}\n[[users]]\nunique_record_id = \"kim@acme.com\"\n"
    ));
    let (code, _, err) = users(&world, &["remove", "pat@acme.com"]).await;
    assert_eq!(code, 0, "{err}");
    let text = file(&world);
    assert!(!text.contains("pat@acme.com"), "{text}");
    assert!(text.contains("kim@acme.com"));
    assert!(text.starts_with("# Manual users, kept by the service desk.\n[bot]\n"));
    let (code, _, _) = users(&world, &["remove", "pat@acme.com"]).await;
    assert_eq!(code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn add_with_resolve_fills_the_new_users_ids() {
    let world = World::start().await;
    world.write_identities(BOT);
    let (code, _, err) = users(
        &world,
        &[
            "add",
            "--unique-record-id",
            "pat@acme.com",
            "--email-addr",
            "pat@acme.com",
            "--full-name",
            "Pat Lee",
            "--itsm",
            "integration=snow,external_id=pat.lee",
            "--resolve",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let text = file(&world);
    assert!(
        text.contains("itsm_user_id = \"a8f98bb0eb32010045e1a5115206fe3a\""),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_leaves_untouched_values_and_entries_as_written() {
    let world = World::start().await;
    let before = "[[users]]\nunique_record_id = \"pat@acme.com\"\nemail_addr = \"pat@acme.com\"\nuser_tags = [ \"VIP\",   \"TESTER\" ]   # spacing kept\n[[users.itsm]]\nintegration = \"snow\"   # the login, not the e-mail\nexternal_id = \"pat.lee\"\n";
    world.write_identities(before);
    let (code, _, err) = users(
        &world,
        &[
            "edit",
            "pat@acme.com",
            "--full-name",
            "Pat Lee",
            "--itsm",
            "integration=snow,itsm_user_id=a8f98bb0eb32010045e1a5115206fe3a",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let text = file(&world);
    assert!(
        text.contains("user_tags = [ \"VIP\",   \"TESTER\" ]   # spacing kept"),
        "{text}"
    );
    assert!(
        text.contains("integration = \"snow\"   # the login, not the e-mail"),
        "{text}"
    );
    assert!(
        text.contains("itsm_user_id = \"a8f98bb0eb32010045e1a5115206fe3a\""),
        "{text}"
    );
    assert!(text.contains("full_name = \"Pat Lee\""), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_output_path_stops_the_command_before_it_writes() {
    let world = World::start().await;
    world.write_identities(FILE);
    let (code, _, err) = users(
        &world,
        &[
            "add",
            "--unique-record-id",
            "kim@acme.com",
            "--email-addr",
            "kim@acme.com",
            "--full-name",
            "Kim",
            "--output",
            "missing/out.json",
        ],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(file(&world), FILE, "nothing was written");
}
