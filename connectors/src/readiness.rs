//! Bot readiness (SPEC section 5.1): what a connector's probe is asked and
//! what it found. The probe proves, read-only, that the bot's own account
//! can create, update, assign and transition tickets.
//!
//! A probe sends only GET requests through its system's [`HttpClient`]
//! (so they are counted and rate limited), reads 401, 403 and 404 itself,
//! and never fails the system: what it cannot tell is a reason, not an
//! error. Each system's probe lives in its own folder, with the admin
//! screens its fixes name.
//!
//! [`HttpClient`]: crate::HttpClient

use crate::ItsmUser;

/// `[connectors.readiness]`, validated by the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessSettings {
    /// `enabled = false` skips the probe.
    pub enabled: bool,
    /// Jira: the service desk project's key; without it only the groups
    /// and the time zone are checked.
    pub project: Option<String>,
    /// Jira: the bot must be in one of these groups (or one of them
    /// followed by `-` and a site suffix).
    pub groups: Vec<String>,
    /// ServiceNow: roles the bot must hold.
    pub roles: Vec<String>,
    /// ServiceNow: the table the bot must be able to read.
    pub table: String,
    /// Salesforce: the object the bot must be able to query, create and
    /// update.
    pub object: String,
}

impl Default for ReadinessSettings {
    fn default() -> Self {
        ReadinessSettings {
            enabled: true,
            project: None,
            groups: vec![
                "jira-servicedesk-users".into(),
                "jira-servicemanagement-users".into(),
            ],
            roles: vec!["itil".into()],
            table: "incident".into(),
            object: "Case".into(),
        }
    }
}

/// What the check hands the probe.
#[derive(Debug, Clone)]
pub struct ReadinessInput {
    /// The bot's account as the system returned it; its entry is verified.
    pub bot: ItsmUser,
    /// The accounts of the manual users verified in this system, for the
    /// checks that concern them (Jira: customers of the service desk).
    pub users: Vec<ItsmUser>,
}

/// What a probe found: problems, and the parts it could not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    pub problems: Vec<ReadinessProblem>,
    /// Why a part could not tell (a refused role read, a project with no
    /// issue yet, a transport failure): no finding for that part.
    pub cannot_tell: Vec<String>,
}

impl Readiness {
    pub fn problem(&mut self, problem: ReadinessProblem) {
        self.problems.push(problem);
    }

    pub fn cannot_tell(&mut self, why: impl Into<String>) {
        self.cannot_tell.push(why.into());
    }
}

/// Which finding a readiness problem becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReadinessKind {
    /// BOT_PERMISSION_MISSING: a permission, role, group or access.
    PermissionMissing,
    /// USER_NOT_CUSTOMER: the manual user at this index of
    /// [`ReadinessInput::users`].
    NotCustomer { user: usize },
    /// WORKFLOW_GAP: a transition or the Assignee on its screen.
    WorkflowGap,
    /// BOT_SETTING: a documented setting of the bot's account.
    BotSetting,
}

/// One problem, with the exact fix in the system's admin screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessProblem {
    pub kind: ReadinessKind,
    pub message: String,
    pub fix: String,
    /// What is needed.
    pub expected: Option<String>,
    /// What is missing or found.
    pub actual: Option<String>,
}

impl ReadinessProblem {
    pub fn new(kind: ReadinessKind, message: impl Into<String>, fix: impl Into<String>) -> Self {
        ReadinessProblem {
            kind,
            message: message.into(),
            fix: fix.into(),
            expected: None,
            actual: None,
        }
    }

    pub fn values(mut self, expected: Option<String>, actual: Option<String>) -> Self {
        self.expected = expected;
        self.actual = actual;
        self
    }
}
