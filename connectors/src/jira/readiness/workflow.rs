//! The workflow rules of Jira bot readiness (SPEC section 5.1): which
//! transitions out of the project's newest issue the bot needs, by the
//! status category of that issue's status. `new` needs one to a `done`
//! status with Assignee on its screen and one to `indeterminate`;
//! `indeterminate` needs one to `done` with Assignee; `done` needs one to
//! a status that is not `done`.
//!
//! Pure: it judges the transitions Jira listed and sends nothing, so each
//! rule is a plain test.

use super::super::wire;
use crate::{ReadinessKind, ReadinessProblem};

/// The newest issue and the transitions Jira lists from its status.
pub(super) struct Newest<'a> {
    pub project: &'a str,
    pub issue: &'a str,
    /// The status's name, for the messages.
    pub status: &'a str,
    /// `statusCategory.key` of the issue's status.
    pub category: &'a str,
    pub transitions: &'a [wire::Transition],
}

/// What the transitions say.
#[derive(Debug)]
pub(super) enum Verdict {
    /// One WORKFLOW_GAP per missing transition (none: ready).
    Gaps(Vec<ReadinessProblem>),
    /// Jira listed no available transition.
    NoTransitions,
    /// A category other than `new`, `indeterminate` or `done`.
    UnknownCategory,
}

pub(super) fn judge(newest: &Newest<'_>) -> Verdict {
    let transitions: Vec<Move> = newest
        .transitions
        .iter()
        .filter(|t| t.is_available != Some(false))
        .map(Move::of)
        .collect();
    if transitions.is_empty() {
        return Verdict::NoTransitions;
    }
    let exits = Exits {
        project: newest.project,
        issue: newest.issue,
        status: newest.status,
        transitions: &transitions,
    };
    Verdict::Gaps(match newest.category {
        "new" => [exits.resolve(), exits.start()]
            .into_iter()
            .flatten()
            .collect(),
        "indeterminate" => exits.resolve().into_iter().collect(),
        "done" => exits.reopen().into_iter().collect(),
        _ => return Verdict::UnknownCategory,
    })
}

/// One available transition, as the workflow check reads it.
struct Move {
    name: String,
    to: String,
    category: Option<String>,
    assignee_on_screen: bool,
}

impl Move {
    fn of(transition: &wire::Transition) -> Move {
        let to = transition.to.as_ref();
        Move {
            name: transition.name.clone().unwrap_or_else(|| "?".into()),
            to: to
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| "?".into()),
            category: to
                .and_then(|s| s.status_category.as_ref())
                .map(|c| c.key.clone()),
            assignee_on_screen: transition.fields.iter().any(|(id, field)| {
                id == "assignee"
                    || field
                        .schema
                        .as_ref()
                        .and_then(|s| s.system.as_deref())
                        .is_some_and(|system| system == "assignee")
            }),
        }
    }

    fn leads_to(&self, category: &str) -> bool {
        self.category.as_deref() == Some(category)
    }

    fn describe(&self) -> String {
        let category = self.category.as_deref().unwrap_or("no category");
        let assignee = if self.assignee_on_screen {
            ", Assignee on its screen"
        } else {
            ""
        };
        format!("\"{}\" → {} ({category}{assignee})", self.name, self.to)
    }
}

/// The transitions out of the newest issue's status.
struct Exits<'a> {
    project: &'a str,
    issue: &'a str,
    status: &'a str,
    transitions: &'a [Move],
}

impl Exits<'_> {
    fn found(&self) -> String {
        self.transitions
            .iter()
            .map(Move::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn gap(&self, message: String, fix: String, expected: String) -> ReadinessProblem {
        ReadinessProblem::new(ReadinessKind::WorkflowGap, message, fix)
            .values(Some(expected), Some(self.found()))
    }

    fn add_transition_fix(&self, target: &str) -> String {
        format!(
            "In project {}: Project settings → Workflows → edit the workflow of its request types and add a transition from \"{}\" to {target}",
            self.project, self.status
        )
    }

    /// `new` and `indeterminate`: a transition to `done` with Assignee on
    /// its screen, so the bot can resolve and assign in one step.
    fn resolve(&self) -> Option<ReadinessProblem> {
        let to_done: Vec<&Move> = self
            .transitions
            .iter()
            .filter(|t| t.leads_to("done"))
            .collect();
        let expected = format!(
            "a transition from \"{}\" to a done status with Assignee on its screen",
            self.status
        );
        if to_done.is_empty() {
            return Some(self.gap(
                format!(
                    "From the status \"{}\" of {} (project {}'s newest issue) the bot has no transition to a done status, so it cannot resolve tickets",
                    self.status, self.issue, self.project
                ),
                self.add_transition_fix("a done status (e.g. Resolved), with Assignee on its screen"),
                expected,
            ));
        }
        if to_done.iter().any(|t| t.assignee_on_screen) {
            return None;
        }
        let names: Vec<String> = to_done.iter().map(|t| format!("\"{}\"", t.name)).collect();
        Some(self.gap(
            format!(
                "No transition from the status \"{}\" of {} to a done status ({}) has the Assignee field on its screen, so the bot cannot assign a ticket as it resolves it",
                self.status,
                self.issue,
                names.join(", ")
            ),
            format!(
                "In project {}: Project settings → Screens → add the Assignee field to the screen of the transition {} (Project settings → Workflows shows which screen the transition uses)",
                self.project,
                names.join(" or ")
            ),
            expected,
        ))
    }

    /// `new`: a transition to `indeterminate`, so the bot can start work.
    fn start(&self) -> Option<ReadinessProblem> {
        if self.transitions.iter().any(|t| t.leads_to("indeterminate")) {
            return None;
        }
        Some(self.gap(
            format!(
                "From the status \"{}\" of {} (project {}'s newest issue) the bot has no transition to an in-progress status, so it cannot start work on tickets",
                self.status, self.issue, self.project
            ),
            self.add_transition_fix("an in-progress status (e.g. In Progress)"),
            format!(
                "a transition from \"{}\" to an in-progress status",
                self.status
            ),
        ))
    }

    /// `done`: a transition to a status that is not `done`, so the bot can
    /// reopen a ticket.
    fn reopen(&self) -> Option<ReadinessProblem> {
        if self
            .transitions
            .iter()
            .any(|t| t.category.as_deref().is_some_and(|c| c != "done"))
        {
            return None;
        }
        Some(self.gap(
            format!(
                "From the status \"{}\" of {} (project {}'s newest issue) the bot has no transition to a status that is not done, so it cannot reopen tickets",
                self.status, self.issue, self.project
            ),
            self.add_transition_fix("a status that is not done (e.g. a Reopen transition to In Progress)"),
            format!(
                "a transition from \"{}\" to a status that is not done",
                self.status
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn transition(name: &str, to: &str, category: &str, assignee: bool) -> Value {
        let mut fields = json!({"resolution": {"required": true, "schema": {"type": "resolution", "system": "resolution"}}});
        if assignee && let Some(object) = fields.as_object_mut() {
            object.insert(
                "assignee".into(),
                json!({"required": false, "schema": {"type": "user", "system": "assignee"}, "name": "Assignee", "key": "assignee"}),
            );
        }
        json!({"id": "1", "name": name, "isAvailable": true,
               "to": {"name": to, "statusCategory": {"key": category}}, "fields": fields})
    }

    fn judge_from(category: &str, transitions: Vec<Value>) -> Verdict {
        let transitions: Vec<wire::Transition> =
            serde_json::from_value(Value::Array(transitions)).expect("IssueTransition shapes");
        judge(&Newest {
            project: "ITH",
            issue: "ITH-3",
            status: "Waiting for support",
            category,
            transitions: &transitions,
        })
    }

    fn gaps(verdict: Verdict) -> Vec<ReadinessProblem> {
        match verdict {
            Verdict::Gaps(gaps) => gaps,
            other => panic!("expected gaps, got {other:?}"),
        }
    }

    #[test]
    fn a_new_issue_that_can_be_started_and_resolved_with_assignee_has_no_gap() {
        let verdict = judge_from(
            "new",
            vec![
                transition("Start progress", "In Progress", "indeterminate", false),
                transition("Resolve this issue", "Resolved", "done", true),
            ],
        );
        assert!(gaps(verdict).is_empty());
    }

    #[test]
    fn a_new_issue_without_assignee_on_resolve_and_without_start_has_two_gaps() {
        let found = gaps(judge_from(
            "new",
            vec![transition("Resolve this issue", "Resolved", "done", false)],
        ));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found.iter().all(|g| g.kind == ReadinessKind::WorkflowGap));
        assert!(
            found[0].message.contains("Assignee"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].fix.contains("Project settings → Screens"),
            "{}",
            found[0].fix
        );
        assert!(
            found[0].fix.contains("\"Resolve this issue\""),
            "{}",
            found[0].fix
        );
        assert!(
            found[1].message.contains("in-progress"),
            "{}",
            found[1].message
        );
        assert!(
            found[1].fix.contains("Project settings → Workflows"),
            "{}",
            found[1].fix
        );
        assert_eq!(
            found[1].actual.as_deref(),
            Some("\"Resolve this issue\" → Resolved (done)")
        );
    }

    #[test]
    fn an_issue_in_progress_without_a_way_to_done_has_a_gap() {
        let found = gaps(judge_from(
            "indeterminate",
            vec![transition("Pending", "Pending", "indeterminate", true)],
        ));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("no transition to a done status"),
            "{}",
            found[0].message
        );
        assert_eq!(
            found[0].expected.as_deref(),
            Some(
                "a transition from \"Waiting for support\" to a done status with Assignee on its screen"
            )
        );
    }

    #[test]
    fn a_done_issue_needs_a_way_back() {
        let closed = gaps(judge_from(
            "done",
            vec![transition("Close", "Closed", "done", false)],
        ));
        assert_eq!(closed.len(), 1);
        assert!(
            closed[0].message.contains("reopen"),
            "{}",
            closed[0].message
        );
        let reopened = gaps(judge_from(
            "done",
            vec![transition("Reopen", "Open", "new", false)],
        ));
        assert!(reopened.is_empty());
    }

    #[test]
    fn unavailable_transitions_and_unknown_categories_are_not_judged() {
        let mut hidden = transition("Resolve", "Resolved", "done", true);
        hidden["isAvailable"] = json!(false);
        assert!(matches!(
            judge_from("new", vec![hidden]),
            Verdict::NoTransitions
        ));
        assert!(matches!(judge_from("new", vec![]), Verdict::NoTransitions));
        assert!(matches!(
            judge_from("undefined", vec![transition("Go", "Done", "done", true)]),
            Verdict::UnknownCategory
        ));
    }
}
