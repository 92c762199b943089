//! The simulator data that replays a recording of Jira Cloud (SPEC section
//! 8), in `fixtures/jira.json`'s format: `values` holds every user the
//! check saw (`/user/bulk`, `/user/search`, `/user`, `/myself`, and the
//! customer lists of the readiness probe), `simulator.readiness` what the
//! probe's answers said (`site.rs`), and `simulator.any` the credentials'
//! owner, whom the simulator answers as for any credential.
//!
//! An address a user's profile visibility hides is never shown, so it
//! cannot be recorded; a user shown without one stays without one. What
//! is kept is the search term that found such a user, as its hidden
//! address, so that the replayed search finds it again and "not found"
//! keeps its reason.

pub(crate) mod site;
pub(crate) mod users;

use std::collections::BTreeSet;

use serde_json::Value;

use self::site::Site;
use self::users::{Shape, Source, Users, owner_record};
use super::api::CLOUD;
use super::sim::HIDDEN_EMAIL_KEY;
use super::{BULK_PATH, MYSELF_PATH, SEARCH_PATH};
use crate::ItsmUser;
use crate::recording::{Exchange, any_credential};

/// `/rest/api/3/user?accountId=`: the simulator answers it, so a recording
/// made by a client that asks it is read too.
const USER_PATH: &str = "/rest/api/3/user";

/// Fields holding a person's name, pseudonymized word by word.
pub const NAME_FIELDS: &[&str] = &["displayName"];

/// Fields holding an e-mail address, a user name or an External ID,
/// pseudonymized whole. The hidden address is the e-mail search's term.
pub const LOGIN_FIELDS: &[&str] = &["emailAddress", HIDDEN_EMAIL_KEY];

/// Jira Cloud's User as the connector reads it (`wire::User`).
static SHAPE: Shape = Shape {
    id_field: "accountId",
    fields: &[
        "accountId",
        "accountType",
        "active",
        "displayName",
        "emailAddress",
        "timeZone",
    ],
    email: visible_email,
    accepts: |record| {
        record
            .get("accountId")
            .and_then(Value::as_str)
            .is_some_and(|id| super::parse_account_id(id).is_ok())
    },
};

/// The data file that answers as the recorded system did.
pub fn sim_data(exchanges: &[Exchange], owner: Option<&ItsmUser>) -> Value {
    let mut users = Users::new(&SHAPE);
    for exchange in exchanges.iter().filter(|e| e.method == "GET") {
        read_users(exchange, &mut users);
    }
    let site = Site::read(&CLOUD, exchanges);
    for customer in site.customer_records() {
        users.add(Source::Customer, customer);
    }
    if let Some(owner) = owner
        && !users.contains(owner.itsm_user_id.as_str())
    {
        users.add(
            Source::Owner,
            &owner_record(&[("accountId", owner.itsm_user_id.as_str())], owner),
        );
    }
    let values = users.into_records();
    let known: BTreeSet<String> = values
        .iter()
        .filter_map(|user| user.get("accountId")?.as_str().map(str::to_owned))
        .collect();
    let owner = owner.map(|o| o.itsm_user_id.as_str());
    let mut simulator = any_credential(owner.filter(|id| known.contains(*id)));
    if let Some(object) = simulator.as_object_mut() {
        object.insert("readiness".into(), site.section(owner, &known));
    }
    serde_json::json!({"values": values, "simulator": simulator})
}

/// The user records of one answer of the user API.
fn read_users(exchange: &Exchange, users: &mut Users) {
    let path = exchange.path.as_str();
    if !exchange.is_get(path) {
        return;
    }
    let body = &exchange.body;
    match path {
        BULK_PATH => {
            for user in body
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                users.add(Source::UserApi, user);
            }
        }
        SEARCH_PATH => {
            let term = exchange.param("query").filter(|q| !q.trim().is_empty());
            for user in body.as_array().into_iter().flatten() {
                match term {
                    Some(term) => users.add_search_result(term, user),
                    None => {
                        users.add(Source::UserApi, user);
                    }
                }
            }
        }
        USER_PATH | MYSELF_PATH => {
            users.add(Source::UserApi, body);
        }
        _ => {}
    }
}

/// An address as Jira shows it; blank is none (the connector's reading).
fn visible_email(text: &str) -> Option<String> {
    Some(text.to_owned()).filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{ExternalId, ItsmUserId};

    fn exchange(path: &str, query: &[(&str, &str)], body: Value) -> Exchange {
        Exchange::get(path, query, 200, body)
    }

    fn bot() -> ItsmUser {
        ItsmUser {
            itsm_user_id: ItsmUserId::new("5b10ac8d82e05b22cc7d4ef5"),
            external_id: Some(ExternalId::new("bot@acme.com")),
            active: true,
            first_name: None,
            last_name: None,
            full_name: Some("Bot".into()),
            account_type: Some("atlassian".into()),
            time_zone: None,
            inactive_reason: None,
            record_kind: None,
        }
    }

    #[test]
    fn users_are_kept_once_by_account_id_without_the_live_hosts_urls() {
        let pat = json!({"self": "https://acme.atlassian.net/rest/api/3/user?accountId=p1",
            "accountId": "p1", "accountType": "atlassian", "active": true, "displayName": "Pat",
            "emailAddress": "pat@acme.com", "avatarUrls": {"48x48": "https://avatar"}, "key": "", "name": ""});
        let exchanges = [
            exchange(
                BULK_PATH,
                &[("accountId", "p1")],
                json!({"values": [pat.clone()]}),
            ),
            exchange(SEARCH_PATH, &[("query", "pat@acme.com")], json!([pat])),
            exchange(
                SEARCH_PATH,
                &[("query", "hana@acme.com")],
                json!([{"accountId": "h1", "active": true, "displayName": "Hana", "emailAddress": null}]),
            ),
            exchange(
                BULK_PATH,
                &[],
                json!({"values": [{"accountId": "bad id", "active": true}]}),
            ),
        ];
        let data = sim_data(&exchanges, Some(&bot()));
        assert_eq!(
            data["values"],
            json!([
                {"accountId": "5b10ac8d82e05b22cc7d4ef5", "accountType": "atlassian", "active": true,
                 "displayName": "Bot", "emailAddress": "bot@acme.com"},
                {"accountId": "h1", "active": true, "displayName": "Hana", HIDDEN_EMAIL_KEY: "hana@acme.com"},
                {"accountId": "p1", "accountType": "atlassian", "active": true, "displayName": "Pat",
                 "emailAddress": "pat@acme.com"},
            ])
        );
        assert_eq!(
            data["simulator"]["any"],
            json!({"user": "5b10ac8d82e05b22cc7d4ef5"})
        );
        super::super::sim::SimData::parse(&data.to_string()).expect("the simulator reads it");
    }

    #[test]
    fn without_an_owner_the_simulator_answers_as_nobody() {
        let data = sim_data(&[], None);
        assert_eq!(data["simulator"]["any"], json!({}));
        assert_eq!(data["values"], json!([]));
        super::super::sim::SimData::parse(&data.to_string()).expect("the simulator reads it");
    }
}
