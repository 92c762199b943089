//! Jira Data Center lookups of up to a hundred keys, each asked alone: a
//! key through `/user?key=`, an e-mail through `/user/search?username=`
//! (inactive users included, a thousand a page, only exact matches
//! counted), a user name through `/user?username=`; values that would list
//! every user refused unsent; and every request under a context path.
//!
//! Never trusts the server's filter: `key=` and `username=` answers are
//! compared with what was asked, search answers by exact address.

use itsmid_connectors::jira_dc::Client;
use itsmid_connectors::{
    Connector, ConnectorError, CredentialOwner, ExternalId, ItsmUserId, Lookup, System,
};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

use super::{
    BOT_BASIC, BOT_KEY, BOT_TOKEN, KIM_KEY, MYSELF_PATH, PAT_KEY, SEARCH_PATH, USER_PATH,
    bot_credentials, by_external, by_key, client, email_search, error_collection, found,
    json_answer, name_client, no_query, not_found_note, raw_query, refusal, requests,
    under_context_path, user_json,
};
use crate::support::{bearer, mount_catch_all, settings};

// --- keys through /user?key= --------------------------------------------

#[tokio::test]
async fn a_key_is_looked_up_alone_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query(format!("key={PAT_KEY}")))
        .and(header("authorization", BOT_BASIC))
        .respond_with(json_answer(user_json(
            PAT_KEY,
            "pat.lee",
            Some("Pat@Acme.com"),
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_key(PAT_KEY)])
        .await
        .expect("lookup succeeds");

    let pat = found(&lookups, &by_key(PAT_KEY));
    assert_eq!(pat.itsm_user_id, ItsmUserId::new(PAT_KEY));
    assert_eq!(pat.external_id, Some(ExternalId::new("Pat@Acme.com")));
    assert!(pat.active);
    assert_eq!(pat.full_name.as_deref(), Some("User pat.lee"));
    assert_eq!(pat.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(pat.first_name, None, "Jira has only displayName");
    assert_eq!(pat.account_type, None);
    assert_eq!(jira.http().requests_sent(), 1);
}

#[tokio::test]
async fn a_personal_access_token_is_sent_as_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query(format!("key={KIM_KEY}")))
        .and(header(
            "authorization",
            format!("Bearer {BOT_TOKEN}").as_str(),
        ))
        .respond_with(json_answer(user_json(
            KIM_KEY,
            "kim.lee",
            Some("kim.lee@acme.com"),
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bearer(BOT_TOKEN));

    let lookups = jira
        .lookup(&[by_key(KIM_KEY)])
        .await
        .expect("lookup succeeds");

    let kim = found(&lookups, &by_key(KIM_KEY));
    assert!(!kim.active, "/user answers for inactive users too");
}

#[tokio::test]
async fn a_key_jira_does_not_know_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query("key=JIRAUSER99999"))
        .respond_with(error_collection(
            404,
            "The user with the key 'JIRAUSER99999' does not exist",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_key("JIRAUSER99999")])
        .await
        .expect("404 is an answer");

    assert_eq!(not_found_note(&lookups, &by_key("JIRAUSER99999")), None);
}

#[tokio::test]
async fn a_record_for_another_key_is_not_found() {
    let server = MockServer::start().await;
    // A proxy or an old instance that resolves the key loosely.
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query(format!("key={PAT_KEY}")))
        .respond_with(json_answer(user_json(
            "JIRAUSER10101",
            "pat.lee2",
            Some("pat@acme.com"),
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query("key=jsmith"))
        .respond_with(json_answer(user_json("JSmith", "jsmith", None, true)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_key(PAT_KEY), by_key("jsmith")])
        .await
        .expect("lookup succeeds");

    assert_eq!(not_found_note(&lookups, &by_key(PAT_KEY)), None);
    assert_eq!(
        not_found_note(&lookups, &by_key("jsmith")),
        None,
        "keys are compared exactly"
    );
}

#[tokio::test]
async fn legacy_keys_and_keys_with_query_characters_travel_as_one_encoded_value() {
    let server = MockServer::start().await;
    let cases = [
        ("dana.ross", "key=dana.ross"),
        ("a&key=b", "key=a%26key%3Db"),
        ("pat@acme.com", "key=pat%40acme.com"),
        ("j smith#2", "key=j+smith%232"),
    ];
    for (key, query) in cases {
        Mock::given(method("GET"))
            .and(path(USER_PATH))
            .and(raw_query(query))
            .respond_with(json_answer(user_json(key, key, None, true)))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let keys: Vec<_> = cases.iter().map(|(key, _)| by_key(key)).collect();

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    for key in &keys {
        found(&lookups, key);
    }
    assert_eq!(jira.http().requests_sent(), 4);
}

#[tokio::test]
async fn values_that_no_key_holds_or_that_would_list_everyone_are_refused_unsent() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let keys = [
        by_key(""),
        by_key("Pat Lee <pat@acme.com>"),
        by_key("JIRA\nUSER1"),
        by_external(""),
        by_external("   "),
        by_external("."),
        by_external(" .. "),
        by_external("pat\n@acme.com"),
    ];

    let lookups = jira.lookup(&keys).await.expect("nothing to send");

    assert_eq!(lookups.outcomes.len(), keys.len());
    for key in &keys {
        refusal(&lookups, key);
    }
    assert!(refusal(&lookups, &by_key("")).contains("empty"));
    assert!(refusal(&lookups, &by_key("Pat Lee <pat@acme.com>")).contains("external_id"));
    assert!(refusal(&lookups, &by_external(".")).contains("every user"));
    assert!(refusal(&lookups, &by_external("")).contains("every user"));
    assert_eq!(requests(&server).await, 0);
    assert_eq!(jira.http().requests_sent(), 0);
}

// --- e-mails through /user/search ----------------------------------------

#[tokio::test]
async fn an_email_is_searched_with_inactive_users_and_the_largest_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("pat%2Bjira%40acme.com")))
        .and(header("authorization", BOT_BASIC))
        .respond_with(json_answer(json!([user_json(
            PAT_KEY,
            "pat.lee",
            Some("Pat+Jira@acme.com"),
            true
        )])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let keys = [
        by_external("pat+jira@acme.com"),
        by_external("PAT+JIRA@Acme.com"),
        by_external(" pat+jira@acme.com "),
    ];

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 3, "one outcome per key asked");
    for key in &keys {
        let pat = found(&lookups, key);
        assert_eq!(pat.itsm_user_id, ItsmUserId::new(PAT_KEY));
        assert_eq!(pat.external_id, Some(ExternalId::new("Pat+Jira@acme.com")));
    }
    assert_eq!(jira.http().requests_sent(), 1, "one search per address");
}

#[tokio::test]
async fn prefix_matches_are_filtered_to_the_exact_email() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("bob%40x.co")))
        .respond_with(json_answer(json!([
            user_json("JIRAUSER10401", "bob.com", Some("bob@x.com"), true),
            user_json("JIRAUSER10402", "bob.co", Some("Bob@X.co"), true),
            user_json("JIRAUSER10403", "bob.uk", Some("bob@x.co.uk"), true),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("bob@x.co")])
        .await
        .expect("lookup succeeds");

    let bob = found(&lookups, &by_external("bob@x.co"));
    assert_eq!(bob.itsm_user_id.as_str(), "JIRAUSER10402");
}

#[tokio::test]
async fn a_prefix_match_alone_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("bob%40x.co")))
        .respond_with(json_answer(json!([
            user_json("JIRAUSER10401", "bob.com", Some("bob@x.com"), true),
            // The search also matches user names: `bob@x.co` as a login.
            user_json("JIRAUSER10404", "bob@x.co.admin", Some("admin@x.co"), true),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("bob@x.co")])
        .await
        .expect("lookup succeeds");

    assert_eq!(not_found_note(&lookups, &by_external("bob@x.co")), None);
}

#[tokio::test]
async fn an_inactive_user_is_found_by_email_as_inactive() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("kim.lee%40acme.com")))
        .respond_with(json_answer(json!([user_json(
            KIM_KEY,
            "kim.lee",
            Some("kim.lee@acme.com"),
            false
        )])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("kim.lee@acme.com")])
        .await
        .expect("lookup succeeds");

    let kim = found(&lookups, &by_external("kim.lee@acme.com"));
    assert_eq!(kim.itsm_user_id, ItsmUserId::new(KIM_KEY));
    assert!(!kim.active);
}

#[tokio::test]
async fn two_users_with_the_same_email_are_ambiguous() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("shared%40acme.com")))
        .respond_with(json_answer(json!([
            user_json("JIRAUSER10501", "shared1", Some("shared@acme.com"), true),
            user_json("JIRAUSER10502", "shared2", Some("SHARED@acme.com"), false),
            user_json("JIRAUSER10503", "shared3", Some("shared@acme.com.au"), true),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("shared@acme.com")])
        .await
        .expect("lookup succeeds");

    match lookups.get(&by_external("shared@acme.com")) {
        Some(Lookup::Ambiguous(users)) => {
            let mut keys: Vec<&str> = users.iter().map(|u| u.itsm_user_id.as_str()).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["JIRAUSER10501", "JIRAUSER10502"]);
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn a_masked_email_is_read_back_and_matches() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("pat%40acme.com")))
        .respond_with(json_answer(json!([user_json(
            PAT_KEY,
            "pat.lee",
            Some("pat at acme dot com"),
            true
        )])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("pat@acme.com")])
        .await
        .expect("lookup succeeds");

    let pat = found(&lookups, &by_external("pat@acme.com"));
    assert_eq!(pat.itsm_user_id, ItsmUserId::new(PAT_KEY));
    assert_eq!(pat.external_id, Some(ExternalId::new("pat@acme.com")));
}

#[tokio::test]
async fn a_hidden_email_is_not_found_with_a_note_to_store_the_key() {
    let server = MockServer::start().await;
    let mut hidden = user_json("JIRAUSER10600", "hana", None, true);
    hidden["emailAddress"] = json!("");
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("hana%40acme.com")))
        .respond_with(json_answer(json!([
            hidden,
            user_json("JIRAUSER10601", "hana.x", None, true)
        ])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("hana@acme.com")])
        .await
        .expect("lookup succeeds");

    let note = not_found_note(&lookups, &by_external("hana@acme.com")).expect("a note");
    assert!(note.contains("hides"), "{note}");
    assert!(note.contains("user's key"), "{note}");
    assert!(note.contains("ITSM User ID"), "{note}");
}

#[tokio::test]
async fn an_email_with_no_match_is_not_found_without_a_note() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("former%40acme.com")))
        .respond_with(json_answer(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("former@acme.com")])
        .await
        .expect("lookup succeeds");

    assert_eq!(
        not_found_note(&lookups, &by_external("former@acme.com")),
        None,
        "inactive users were searched too: nothing to explain"
    );
}

#[tokio::test]
async fn a_full_search_page_is_followed_by_start_at() {
    let server = MockServer::start().await;
    let crowd: Vec<serde_json::Value> = (0..1_000)
        .map(|n| {
            user_json(
                &format!("JIRAUSER2{n:04}"),
                &format!("ann{n}"),
                Some(&format!("ann@acme.com.{n}")),
                true,
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("ann%40acme.com")))
        .respond_with(json_answer(json!(crowd)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(format!(
            "{}&startAt=1000",
            email_search("ann%40acme.com")
        )))
        .respond_with(json_answer(json!([user_json(
            "JIRAUSER30000",
            "ann",
            Some("ann@acme.com"),
            true
        )])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("ann@acme.com")])
        .await
        .expect("lookup succeeds");

    assert_eq!(
        found(&lookups, &by_external("ann@acme.com"))
            .itsm_user_id
            .as_str(),
        "JIRAUSER30000"
    );
}

#[tokio::test]
async fn a_search_page_of_exactly_one_hundred_is_followed_as_jira_10_caps_pages() {
    let server = MockServer::start().await;
    let crowd: Vec<serde_json::Value> = (0..100)
        .map(|n| {
            user_json(
                &format!("JIRAUSER2{n:04}"),
                &format!("ann{n}"),
                Some(&format!("ann@acme.com.{n}")),
                true,
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("ann%40acme.com")))
        .respond_with(json_answer(json!(crowd)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(format!(
            "{}&startAt=100",
            email_search("ann%40acme.com")
        )))
        .respond_with(json_answer(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_external("ann@acme.com")])
        .await
        .expect("lookup succeeds");

    assert_eq!(not_found_note(&lookups, &by_external("ann@acme.com")), None);
    assert_eq!(jira.http().requests_sent(), 2);
}

// --- user names through /user?username= ----------------------------------

#[tokio::test]
async fn lookup_by_name_asks_for_the_user_name_alone() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query("username=pat.lee"))
        .and(header("authorization", BOT_BASIC))
        .respond_with(json_answer(user_json(
            PAT_KEY,
            "Pat.Lee",
            Some("pat@acme.com"),
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query("username=gone"))
        .respond_with(error_collection(
            404,
            "The user with the username 'gone' does not exist",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .and(raw_query("username=sam"))
        .respond_with(json_answer(user_json(
            "JIRAUSER10700",
            "samantha",
            None,
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(json_answer(json!([])))
        .expect(0)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = name_client(&server);

    let lookups = jira
        .lookup(&[
            by_external("pat.lee"),
            by_external("PAT.LEE"),
            by_external("gone"),
            by_external("sam"),
            by_external("."),
        ])
        .await
        .expect("lookup succeeds");

    for key in [by_external("pat.lee"), by_external("PAT.LEE")] {
        let pat = found(&lookups, &key);
        assert_eq!(pat.itsm_user_id, ItsmUserId::new(PAT_KEY));
        assert_eq!(pat.external_id, Some(ExternalId::new("Pat.Lee")));
    }
    assert_eq!(not_found_note(&lookups, &by_external("gone")), None);
    assert_eq!(
        not_found_note(&lookups, &by_external("sam")),
        None,
        "a record for another user name is not evidence"
    );
    refusal(&lookups, &by_external("."));
    assert_eq!(jira.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_lookup_field_other_than_email_or_name_is_refused_at_setup() {
    let server = MockServer::start().await;
    let mut settings = settings(System::JiraDc, &server, bot_credentials());
    settings.lookup_field = "accountId".into();

    let err = match Client::new(settings) {
        Ok(_) => panic!("accountId is no Data Center External ID"),
        Err(err) => err,
    };

    assert!(matches!(err, ConnectorError::Setup { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("accountId") && text.contains("emailAddress or name"),
        "{text}"
    );
}

// --- a context path -------------------------------------------------------

#[tokio::test]
async fn every_request_keeps_the_base_urls_context_path() {
    for base in ["jira", "jira/"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("/jira{USER_PATH}")))
            .and(raw_query(format!("key={PAT_KEY}")))
            .and(header("authorization", BOT_BASIC))
            .respond_with(json_answer(user_json(
                PAT_KEY,
                "pat.lee",
                Some("pat@acme.com"),
                true,
            )))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/jira{SEARCH_PATH}")))
            .and(raw_query(email_search("kim.lee%40acme.com")))
            .and(header("authorization", BOT_BASIC))
            .respond_with(json_answer(json!([user_json(
                KIM_KEY,
                "kim.lee",
                Some("kim.lee@acme.com"),
                false
            )])))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/jira{MYSELF_PATH}")))
            .and(no_query)
            .and(header("authorization", BOT_BASIC))
            .respond_with(json_answer(user_json(
                BOT_KEY,
                "moveworks-bot",
                Some("moveworks-bot@acme.com"),
                true,
            )))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let mut settings = under_context_path(&server, bot_credentials());
        settings.base_url = format!("{}/{base}", server.uri())
            .parse()
            .expect("a valid URL");
        let jira = Client::new(settings).expect("test settings are valid");

        let lookups = jira
            .lookup(&[by_key(PAT_KEY), by_external("kim.lee@acme.com")])
            .await
            .expect("lookup succeeds");
        let owner = jira.whoami().await.expect("myself answers");

        found(&lookups, &by_key(PAT_KEY));
        assert!(!found(&lookups, &by_external("kim.lee@acme.com")).active);
        let CredentialOwner::Known(bot) = owner else {
            panic!("{base}: expected the bot, got {owner:?}");
        };
        assert_eq!(bot.itsm_user_id.as_str(), BOT_KEY);
        assert_eq!(requests(&server).await, 3, "{base}");
    }
}
