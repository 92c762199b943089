//! The records a system returned for one lookup, indexed so that each key
//! asked for is settled by the records' own values.
//!
//! Never trusts a server-side filter: a record counts for an External ID
//! only when its own External ID matches (`ExternalId::matches`), and for an
//! id only when its id is that id.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::{ExternalId, ItsmUser, ItsmUserId, Lookup};

/// An External ID as it is indexed; agrees with [`ExternalId::matches`].
pub(crate) fn folded(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

#[derive(Debug, Default)]
pub(crate) struct Answers {
    by_id: BTreeMap<ItsmUserId, ItsmUser>,
    by_external_id: HashMap<String, BTreeSet<ItsmUserId>>,
}

impl Answers {
    pub(crate) fn add(&mut self, user: ItsmUser) {
        if let Some(external_id) = &user.external_id {
            self.by_external_id
                .entry(folded(external_id.as_str()))
                .or_default()
                .insert(user.itsm_user_id.clone());
        }
        self.by_id.insert(user.itsm_user_id.clone(), user);
    }

    pub(crate) fn for_id(&self, id: &ItsmUserId) -> Lookup {
        match self.by_id.get(id) {
            Some(user) => Lookup::Found(user.clone()),
            None => Lookup::NotFound { note: None },
        }
    }

    /// One record is found, several are ambiguous; none is not found,
    /// without a note (the system adds one where it knows more).
    pub(crate) fn for_external_id(&self, external_id: &ExternalId) -> Lookup {
        let mut users: Vec<ItsmUser> = self
            .by_external_id
            .get(&folded(external_id.as_str()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
            .filter(|user| {
                user.external_id
                    .as_ref()
                    .is_some_and(|found| external_id.matches(found.as_str()))
            })
            .cloned()
            .collect();
        match users.len() {
            0 => Lookup::NotFound { note: None },
            1 => match users.pop() {
                Some(user) => Lookup::Found(user),
                None => Lookup::NotFound { note: None },
            },
            _ => Lookup::Ambiguous(users),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, external: &str) -> ItsmUser {
        ItsmUser {
            itsm_user_id: ItsmUserId::new(id),
            external_id: Some(ExternalId::new(external)),
            active: true,
            first_name: None,
            last_name: None,
            full_name: None,
            account_type: None,
            time_zone: None,
            inactive_reason: None,
            record_kind: None,
        }
    }

    #[test]
    fn a_key_is_settled_by_the_records_own_values() {
        let mut answers = Answers::default();
        answers.add(user("1", "Pat.Lee"));
        answers.add(user("2", "sam"));
        answers.add(user("3", "SAM"));
        assert!(
            matches!(answers.for_external_id(&ExternalId::new("pat.lee")), Lookup::Found(u) if u.itsm_user_id.as_str() == "1")
        );
        assert!(
            matches!(answers.for_external_id(&ExternalId::new("sam")), Lookup::Ambiguous(users) if users.len() == 2)
        );
        assert!(matches!(
            answers.for_external_id(&ExternalId::new("pat")),
            Lookup::NotFound { note: None }
        ));
        assert!(matches!(
            answers.for_id(&ItsmUserId::new("2")),
            Lookup::Found(_)
        ));
        assert!(matches!(
            answers.for_id(&ItsmUserId::new("9")),
            Lookup::NotFound { .. }
        ));
    }
}
