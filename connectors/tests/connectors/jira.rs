//! Jira Cloud connector tests.
