//! ServiceNow connector tests.
