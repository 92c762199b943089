//! `itsmid users list | show | add | edit | remove`: manual users in the
//! identities file, with the rules of the New / Edit Manual User form
//! (Unique Record ID required and unique; the User Attribute Reference's
//! enums; registered custom attributes only; one ITSM entry per integration;
//! integration names checked against the config).
//!
//! A refused change writes nothing (exit 2). Writes go through `edit.rs`, so
//! the rest of the file keeps its comments and layout.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{Args as ClapArgs, Subcommand};
use serde_json::{Map, Value};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::cli::{self, Args, Outcome};
use crate::config::Config;
use crate::edit::{IdentitiesFile, write_atomically};
use crate::identities::{Identities, Identity, STRING_ATTRIBUTES, USER_TAGS, WORK_STATUSES};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// The manual users: a table on a terminal, JSON otherwise.
    List,
    /// One manual user, every field.
    Show {
        /// The user's Unique Record ID.
        id: String,
    },
    /// Add a manual user (flags or --from-json).
    Add(Box<UserInput>),
    /// Change a manual user's fields (given flags only).
    Edit {
        /// The user's Unique Record ID.
        id: String,
        #[command(flatten)]
        input: Box<UserInput>,
        /// Remove the ITSM ID Info entry of this integration (repeatable).
        #[arg(long = "remove-itsm", value_name = "INTEGRATION")]
        remove_itsm: Vec<String>,
    },
    /// Remove a manual user.
    Remove {
        /// The user's Unique Record ID.
        id: String,
    },
}

/// Every field of the form as a flag.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct UserInput {
    /// A JSON object with the user's fields (the identities file's names).
    #[arg(long, value_name = "FILE")]
    pub from_json: Option<PathBuf>,
    #[arg(long)]
    pub unique_record_id: Option<String>,
    #[arg(long)]
    pub email_addr: Option<String>,
    #[arg(long)]
    pub full_name: Option<String>,
    #[arg(long)]
    pub first_name: Option<String>,
    #[arg(long)]
    pub last_name: Option<String>,
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
    #[arg(long)]
    pub user_name: Option<String>,
    #[arg(long)]
    pub location: Option<String>,
    #[arg(long)]
    pub manager: Option<String>,
    #[arg(long)]
    pub manager_email: Option<String>,
    #[arg(long)]
    pub employee_id: Option<String>,
    #[arg(long)]
    pub timezone: Option<String>,
    #[arg(long)]
    pub cost_center_id: Option<String>,
    #[arg(long)]
    pub cost_center_name: Option<String>,
    #[arg(long)]
    pub country_code: Option<String>,
    #[arg(long)]
    pub division: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    #[arg(long)]
    pub state: Option<String>,
    /// CONTINGENT, INTERN, FULL_TIME or UNKNOWN_WORK_STATUS.
    #[arg(long)]
    pub work_status: Option<String>,
    /// An additional e-mail address (repeatable).
    #[arg(long = "user-email", value_name = "EMAIL")]
    pub user_emails: Vec<String>,
    /// A user tag such as BASIC_USER or VIP (repeatable).
    #[arg(long = "user-tag", value_name = "TAG")]
    pub user_tags: Vec<String>,
    /// A registered custom attribute, NAME=VALUE (repeatable).
    #[arg(long = "custom", value_name = "NAME=VALUE")]
    pub custom: Vec<String>,
    /// ITSM ID Info: integration=snow,external_id=pat.lee[,itsm_user_id=...,first_name=...] (repeatable).
    #[arg(long = "itsm", value_name = "KEY=VALUE,...")]
    pub itsm: Vec<String>,
    /// Channel ID Info: platform=slack,external_id=U024BE7LH (repeatable).
    #[arg(long = "channel", value_name = "KEY=VALUE,...")]
    pub channels: Vec<String>,
    /// IDM ID Info: integration=okta,external_id=00u1abcd (repeatable).
    #[arg(long = "idm", value_name = "KEY=VALUE,...")]
    pub idm: Vec<String>,
    /// Fill the user's ITSM ID Info from the systems right away.
    #[arg(long)]
    pub resolve: bool,
}

pub async fn run(args: &Args, command: &UsersCommand) -> anyhow::Result<Outcome> {
    let (config, identities) = cli::load_inputs(&args.config)?;
    match command {
        UsersCommand::List => list(args, &identities),
        UsersCommand::Show { id } => show(args, &identities, id),
        UsersCommand::Add(input) => {
            let fields = input_fields(input)?;
            let urid = text(&fields, "unique_record_id").unwrap_or_default();
            validate(&config, &identities, &fields, None)?;
            let mut file = IdentitiesFile::from_text(&identities.path, &identities.text)?;
            append_user(&mut file, &fields)?;
            save(&file, &config, &identities)?;
            finish(args, "added", &urid, &identities, input.resolve).await
        }
        UsersCommand::Edit {
            id,
            input,
            remove_itsm,
        } => {
            let index = user_index(&identities, id)?;
            let current = user_json(&identities.users[index]);
            let changes = input_fields(input)?;
            let merged = merge(current, &changes, remove_itsm)?;
            validate(&config, &identities, &merged, Some(index))?;
            let mut file = IdentitiesFile::from_text(&identities.path, &identities.text)?;
            replace_user(&mut file, index, &merged)?;
            save(&file, &config, &identities)?;
            let urid = text(&merged, "unique_record_id").unwrap_or_default();
            finish(args, "changed", &urid, &identities, input.resolve).await
        }
        UsersCommand::Remove { id } => {
            let index = user_index(&identities, id)?;
            let mut file = IdentitiesFile::from_text(&identities.path, &identities.text)?;
            remove_user(&mut file, index)?;
            save(&file, &config, &identities)?;
            finish(args, "removed", id, &identities, false).await
        }
    }
}

fn list(args: &Args, identities: &Identities) -> anyhow::Result<Outcome> {
    let users: Vec<Value> = identities
        .users
        .iter()
        .map(user_json)
        .map(Value::Object)
        .collect();
    let json = serde_json::to_string_pretty(&users).context("cannot print the users")?;
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(vec![
            "unique record id",
            "e-mail",
            "full name",
            "work status",
            "ITSM entries",
        ]);
    for user in &identities.users {
        table.add_row(vec![
            user.unique_record_id.0.clone(),
            user.attribute("email_addr").unwrap_or("").to_owned(),
            user.attribute("full_name").unwrap_or("").to_owned(),
            user.work_status.clone().unwrap_or_default(),
            user.itsm
                .iter()
                .map(|e| match &e.itsm_user_id {
                    Some(id) => format!("{} ({id})", e.integration),
                    None => e.integration.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    let table = format!(
        "{} manual users in {}\n{table}\n",
        identities.users.len(),
        identities.path.display()
    );
    cli::emit(args, &json, &table)?;
    Ok(Outcome::InOrder)
}

fn show(args: &Args, identities: &Identities, id: &str) -> anyhow::Result<Outcome> {
    let index = user_index(identities, id)?;
    let user = Value::Object(user_json(&identities.users[index]));
    let json = serde_json::to_string_pretty(&user).context("cannot print the user")?;
    cli::emit(args, &json, &format!("{json}\n"))?;
    Ok(Outcome::InOrder)
}

async fn finish(
    args: &Args,
    action: &str,
    urid: &str,
    identities: &Identities,
    resolve: bool,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::InOrder;
    let mut resolved = Value::Null;
    if resolve {
        let (config, fresh) = cli::load_inputs(&args.config)?;
        let connected = cli::connect(&config)?;
        let run = crate::check::run(&fresh, &connected).await;
        let mut plan = crate::resolve::plan(&config, &fresh, &connected, &run).await;
        plan.identities.retain(|p| p.unique_record_id == urid);
        plan.summary.changes = plan.identities.iter().map(|p| p.changes.len()).sum();
        plan.written = crate::resolve::write(&fresh, &plan)?;
        if !plan.complete {
            outcome = Outcome::Problems;
        }
        resolved = serde_json::to_value(&plan).context("cannot print the plan")?;
    }
    let json = serde_json::json!({
        "action": action,
        "unique_record_id": urid,
        "file": identities.path.display().to_string(),
        "resolve": resolved,
    });
    let mut table = format!(
        "{action} manual user \"{urid}\" in {}\n",
        identities.path.display()
    );
    if let Some(changes) = resolved.get("summary").and_then(|s| s.get("changes")) {
        table.push_str(&format!(
            "resolve: {changes} change(s) written from the systems\n"
        ));
    }
    cli::emit(
        args,
        &serde_json::to_string_pretty(&json).context("cannot print")?,
        &table,
    )?;
    Ok(outcome)
}

fn user_index(identities: &Identities, id: &str) -> anyhow::Result<usize> {
    identities
        .users
        .iter()
        .position(|u| u.unique_record_id.0 == id.trim())
        .ok_or_else(|| {
            anyhow!(
                "{}: no manual user has unique_record_id \"{id}\"; `itsmid users list` shows them",
                identities.path.display()
            )
        })
}

/// A manual user as the identities file's JSON structure.
pub fn user_json(user: &Identity) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "unique_record_id".into(),
        Value::from(user.unique_record_id.0.clone()),
    );
    for name in STRING_ATTRIBUTES {
        if let Some(value) = user.attribute(name) {
            out.insert((*name).into(), Value::from(value));
        }
    }
    if !user.user_emails.is_empty() {
        out.insert("user_emails".into(), Value::from(user.user_emails.clone()));
    }
    if !user.user_tags.is_empty() {
        out.insert("user_tags".into(), Value::from(user.user_tags.clone()));
    }
    if let Some(status) = &user.work_status {
        out.insert("work_status".into(), Value::from(status.clone()));
    }
    if !user.custom_attributes.is_empty() {
        let custom: Map<String, Value> = user
            .custom_attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert("custom_attributes".into(), Value::Object(custom));
    }
    let itsm: Vec<Value> = user
        .itsm
        .iter()
        .map(|e| {
            let mut entry = Map::new();
            entry.insert("integration".into(), Value::from(e.integration.0.clone()));
            for (key, value) in [
                ("external_id", e.external_id.as_ref().map(|x| x.0.clone())),
                ("itsm_user_id", e.itsm_user_id.clone()),
                ("first_name", e.first_name.clone()),
                ("last_name", e.last_name.clone()),
                ("full_name", e.full_name.clone()),
            ] {
                if let Some(value) = value {
                    entry.insert(key.into(), Value::from(value));
                }
            }
            Value::Object(entry)
        })
        .collect();
    if !itsm.is_empty() {
        out.insert("itsm".into(), Value::Array(itsm));
    }
    for (key, list) in [("channels", &user.channels), ("idm", &user.idm)] {
        if !list.is_empty() {
            let values: Vec<Value> = list
                .iter()
                .map(|m| {
                    Value::Object(
                        m.iter()
                            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                            .collect(),
                    )
                })
                .collect();
            out.insert(key.into(), Value::Array(values));
        }
    }
    out
}

/// The user's fields from --from-json and the flags (flags win).
fn input_fields(input: &UserInput) -> anyhow::Result<Map<String, Value>> {
    let mut fields = match &input.from_json {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            match serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')) {
                Ok(Value::Object(map)) => map,
                Ok(_) => bail!(
                    "{}: the file must hold one JSON object with the user's fields",
                    path.display()
                ),
                Err(err) => bail!(
                    "{}, line {}: not valid JSON: {err}",
                    path.display(),
                    err.line()
                ),
            }
        }
        None => Map::new(),
    };
    let strings = [
        ("unique_record_id", &input.unique_record_id),
        ("email_addr", &input.email_addr),
        ("full_name", &input.full_name),
        ("first_name", &input.first_name),
        ("last_name", &input.last_name),
        ("role", &input.role),
        ("department", &input.department),
        ("user_name", &input.user_name),
        ("location", &input.location),
        ("manager", &input.manager),
        ("manager_email", &input.manager_email),
        ("employee_id", &input.employee_id),
        ("timezone", &input.timezone),
        ("cost_center_id", &input.cost_center_id),
        ("cost_center_name", &input.cost_center_name),
        ("country_code", &input.country_code),
        ("division", &input.division),
        ("region", &input.region),
        ("city", &input.city),
        ("state", &input.state),
        ("work_status", &input.work_status),
    ];
    for (key, value) in strings {
        if let Some(value) = value {
            fields.insert(key.into(), Value::from(value.clone()));
        }
    }
    if !input.user_emails.is_empty() {
        fields.insert("user_emails".into(), Value::from(input.user_emails.clone()));
    }
    if !input.user_tags.is_empty() {
        fields.insert("user_tags".into(), Value::from(input.user_tags.clone()));
    }
    if !input.custom.is_empty() {
        let mut custom = match fields.remove("custom_attributes") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for pair in &input.custom {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("--custom \"{pair}\": write it as NAME=VALUE"))?;
            custom.insert(name.trim().into(), Value::from(value));
        }
        fields.insert("custom_attributes".into(), Value::Object(custom));
    }
    for (key, flag, list) in [
        ("itsm", "--itsm", &input.itsm),
        ("channels", "--channel", &input.channels),
        ("idm", "--idm", &input.idm),
    ] {
        if list.is_empty() {
            continue;
        }
        let mut entries = match fields.remove(key) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        for spec in list {
            entries.push(Value::Object(key_values(flag, spec)?));
        }
        fields.insert(key.into(), Value::Array(entries));
    }
    Ok(fields)
}

/// `a=1,b=2` into an object.
fn key_values(flag: &str, spec: &str) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| anyhow!("{flag} \"{spec}\": write it as key=value,key=value"))?;
        out.insert(key.trim().into(), Value::from(value.trim()));
    }
    Ok(out)
}

/// The edited user: changed fields replace, ITSM entries replace the entry
/// of the same integration or are added.
fn merge(
    mut current: Map<String, Value>,
    changes: &Map<String, Value>,
    remove_itsm: &[String],
) -> anyhow::Result<Map<String, Value>> {
    for (key, value) in changes {
        if key == "itsm" {
            let mut entries = match current.remove("itsm") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            for new in value.as_array().into_iter().flatten() {
                let integration = new.get("integration").cloned();
                match entries
                    .iter_mut()
                    .find(|e| e.get("integration") == integration.as_ref())
                {
                    Some(existing) => {
                        if let (Some(existing), Some(new)) =
                            (existing.as_object_mut(), new.as_object())
                        {
                            for (k, v) in new {
                                existing.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    None => entries.push(new.clone()),
                }
            }
            current.insert("itsm".into(), Value::Array(entries));
        } else {
            current.insert(key.clone(), value.clone());
        }
    }
    if !remove_itsm.is_empty()
        && let Some(Value::Array(entries)) = current.get_mut("itsm")
    {
        for integration in remove_itsm {
            let before = entries.len();
            entries.retain(|e| {
                e.get("integration").and_then(Value::as_str) != Some(integration.as_str())
            });
            if entries.len() == before {
                bail!("--remove-itsm {integration}: the user has no entry for that integration");
            }
        }
    }
    Ok(current)
}

fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The form's rules; every problem at once, each naming the flag.
fn validate(
    config: &Config,
    identities: &Identities,
    user: &Map<String, Value>,
    editing: Option<usize>,
) -> anyhow::Result<()> {
    let mut problems: Vec<String> = Vec::new();
    let known_keys: Vec<&str> = STRING_ATTRIBUTES
        .iter()
        .copied()
        .chain([
            "unique_record_id",
            "user_emails",
            "user_tags",
            "work_status",
            "custom_attributes",
            "itsm",
            "channels",
            "idm",
        ])
        .collect();
    for key in user.keys() {
        if !known_keys.contains(&key.as_str()) {
            problems.push(match crate::doc::closest(key, &known_keys) {
                Some(s) => format!("unknown field `{key}`: did you mean `{s}`?"),
                None => format!("unknown field `{key}`"),
            });
        }
    }
    for key in STRING_ATTRIBUTES
        .iter()
        .chain(["unique_record_id", "work_status"].iter())
    {
        if let Some(value) = user.get(*key)
            && !value.is_string()
        {
            problems.push(format!("`{key}` must be a string"));
        }
    }
    match text(user, "unique_record_id") {
        None => problems.push("--unique-record-id is required: the value of the organization's joining key, usually the e-mail".into()),
        Some(urid) => {
            let taken = identities
                .bot
                .iter()
                .filter(|b| b.unique_record_id.0 == urid)
                .map(|_| "the bot".to_owned())
                .chain(
                    identities
                        .users
                        .iter()
                        .enumerate()
                        .filter(|(i, u)| Some(*i) != editing && u.unique_record_id.0 == urid)
                        .map(|(_, u)| format!("manual user \"{}\"", u.unique_record_id)),
                )
                .next();
            if let Some(owner) = taken {
                problems.push(format!("unique_record_id \"{urid}\" is already used by {owner}; Unique Record IDs must be unique"));
            }
        }
    }
    if editing.is_none() {
        for (key, flag) in [("email_addr", "--email-addr"), ("full_name", "--full-name")] {
            if text(user, key).is_none() {
                problems.push(format!("{flag} is required for a new user"));
            }
        }
    }
    if let Some(status) = user.get("work_status").and_then(Value::as_str)
        && !WORK_STATUSES.contains(&status)
    {
        problems.push(format!(
            "--work-status \"{status}\" is not one of {}",
            WORK_STATUSES.join(", ")
        ));
    }
    for (key, allowed) in [("user_tags", Some(USER_TAGS)), ("user_emails", None)] {
        match user.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    match (item.as_str(), allowed) {
                        (None, _) => problems.push(format!("`{key}` must be a list of strings")),
                        (Some(tag), Some(allowed)) if !allowed.contains(&tag) => problems.push(
                            format!("--user-tag \"{tag}\" is not one of {}", allowed.join(", ")),
                        ),
                        _ => {}
                    }
                }
            }
            Some(_) => problems.push(format!("`{key}` must be a list of strings")),
        }
    }
    if let Some(custom) = user.get("custom_attributes") {
        match custom.as_object() {
            Some(map) => {
                for name in map.keys() {
                    if !config.pipeline.custom_attributes.iter().any(|r| r == name) {
                        problems.push(format!(
                            "custom attribute `{name}` is not registered; add it to pipeline.custom_attributes in {}",
                            config.path.display()
                        ));
                    }
                }
            }
            None => problems.push("`custom_attributes` must be an object".into()),
        }
    }
    let known: Vec<&str> = config
        .connectors
        .iter()
        .map(|c| c.integration.as_str())
        .collect();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for entry in user
        .get("itsm")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(entry) = entry.as_object() else {
            problems.push("each ITSM ID Info entry must be an object".into());
            continue;
        };
        for key in entry.keys() {
            if ![
                "integration",
                "external_id",
                "itsm_user_id",
                "first_name",
                "last_name",
                "full_name",
            ]
            .contains(&key.as_str())
            {
                problems.push(format!("--itsm: unknown key `{key}`"));
            }
        }
        let integration = entry
            .get("integration")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if integration.is_empty() {
            problems.push("--itsm: every entry needs integration=...".into());
            continue;
        }
        if !known.contains(&integration) {
            problems.push(match known.iter().find(|k| k.eq_ignore_ascii_case(integration)) {
                Some(s) => format!("--itsm: integration \"{integration}\" matches no connector; integrations are case-sensitive: did you mean \"{s}\"?"),
                None => format!("--itsm: integration \"{integration}\" matches no connector (configured: {})", known.join(", ")),
            });
        }
        if seen.insert(integration.to_owned(), ()).is_some() {
            problems.push(format!("--itsm: two entries for integration \"{integration}\"; one entry per ticketing system"));
        }
        if entry
            .get("external_id")
            .and_then(Value::as_str)
            .is_none_or(|v| v.trim().is_empty())
            && entry
                .get("itsm_user_id")
                .and_then(Value::as_str)
                .is_none_or(|v| v.trim().is_empty())
        {
            problems.push(format!("--itsm: the {integration} entry needs external_id=... (the user's identifier in that system)"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!(
            "{}: the user was not saved ({} problem{}):\n  {}",
            identities.path.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n  ")
        )
    }
}

/// Writes the edited file after the whole file passes the loader's rules.
fn save(file: &IdentitiesFile, config: &Config, identities: &Identities) -> anyhow::Result<()> {
    let Some(text) = file.render() else {
        return Ok(());
    };
    Identities::parse(&identities.path, &text, &config.pipeline.custom_attributes).map_err(
        |errors| anyhow!("the edited file would not be valid; nothing was written:\n{errors}"),
    )?;
    write_atomically(
        &identities.path,
        identities.text.as_bytes(),
        text.as_bytes(),
    )?;
    Ok(())
}

fn append_user(file: &mut IdentitiesFile, user: &Map<String, Value>) -> anyhow::Result<()> {
    if let Some(doc) = file.toml_mut() {
        let table = toml_table(user);
        match doc.get_mut("users") {
            Some(Item::ArrayOfTables(list)) => list.push(table),
            Some(Item::Value(toml_edit::Value::Array(list))) => {
                list.push(table.into_inline_table())
            }
            Some(_) => bail!("`users` in the identities file is not a list of tables"),
            None => {
                let mut list = ArrayOfTables::new();
                list.push(table);
                doc.insert("users", Item::ArrayOfTables(list));
            }
        }
    } else if let Some(root) = file.json_mut() {
        let root = root
            .as_object_mut()
            .ok_or_else(|| anyhow!("the identities file is not a JSON object"))?;
        match root
            .entry("users")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list.push(Value::Object(user.clone())),
            _ => bail!("`users` in the identities file is not a list"),
        }
    }
    Ok(())
}

fn replace_user(
    file: &mut IdentitiesFile,
    index: usize,
    user: &Map<String, Value>,
) -> anyhow::Result<()> {
    if let Some(doc) = file.toml_mut() {
        let table = users_table_mut(doc, index)?;
        update_toml_table(table, user);
    } else if let Some(root) = file.json_mut() {
        let slot = root
            .get_mut("users")
            .and_then(|u| u.get_mut(index))
            .ok_or_else(|| anyhow!("manual user {} is not in the file", index + 1))?;
        *slot = Value::Object(user.clone());
    }
    Ok(())
}

fn remove_user(file: &mut IdentitiesFile, index: usize) -> anyhow::Result<()> {
    if let Some(doc) = file.toml_mut() {
        match doc.get_mut("users") {
            Some(Item::ArrayOfTables(list)) if index < list.len() => {
                list.remove(index);
            }
            Some(Item::Value(toml_edit::Value::Array(list))) if index < list.len() => {
                list.remove(index);
            }
            _ => bail!("manual user {} is not in the file", index + 1),
        }
    } else if let Some(root) = file.json_mut() {
        match root.get_mut("users") {
            Some(Value::Array(list)) if index < list.len() => {
                list.remove(index);
            }
            _ => bail!("manual user {} is not in the file", index + 1),
        }
    }
    Ok(())
}

fn users_table_mut(doc: &mut DocumentMut, index: usize) -> anyhow::Result<&mut Table> {
    match doc.get_mut("users") {
        Some(Item::ArrayOfTables(list)) => list
            .get_mut(index)
            .ok_or_else(|| anyhow!("manual user {} is not in the file", index + 1)),
        _ => bail!("`users` is written inline; edit it by hand or write it as [[users]] tables"),
    }
}

/// Sets every field of `user` on an existing table, keeping the comments of
/// values that stay and removing fields the user no longer has.
fn update_toml_table(table: &mut Table, user: &Map<String, Value>) {
    let stale: Vec<String> = table
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| !user.contains_key(k))
        .collect();
    for key in stale {
        table.remove(&key);
    }
    for (key, value) in user {
        // A value that reads the same is left as written, layout included.
        if table.get(key).and_then(item_json).as_ref() == Some(value) {
            continue;
        }
        match (table.get_mut(key), value) {
            // ITSM ID Info and the other lists of tables: each entry is
            // edited in place, so the comments of the ones kept stay.
            (Some(Item::ArrayOfTables(list)), Value::Array(items))
                if items.iter().all(Value::is_object) =>
            {
                while list.len() > items.len() {
                    list.remove(list.len() - 1);
                }
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(fields) = item else {
                        continue;
                    };
                    match list.get_mut(i) {
                        Some(existing) => update_toml_table(existing, fields),
                        None => list.push(toml_table(fields)),
                    }
                }
            }
            (Some(Item::Table(sub)), Value::Object(fields)) => update_toml_table(sub, fields),
            (Some(Item::Value(old)), _) => {
                if let Some(new) = toml_value(value) {
                    let decor = old.decor().clone();
                    *old = new;
                    *old.decor_mut() = decor;
                }
            }
            _ => {
                let mut single = Map::new();
                single.insert(key.clone(), value.clone());
                if let Some((_, item)) = toml_table(&single).iter().next() {
                    table.insert(key, item.clone());
                }
            }
        }
    }
}

/// A TOML item as the JSON value it stands for, to compare with an edit.
fn item_json(item: &Item) -> Option<Value> {
    match item {
        Item::Value(value) => value_json(value),
        Item::Table(table) => Some(Value::Object(
            table
                .iter()
                .filter_map(|(k, v)| Some((k.to_owned(), item_json(v)?)))
                .collect(),
        )),
        Item::ArrayOfTables(list) => Some(Value::Array(
            list.iter()
                .filter_map(|t| item_json(&Item::Table(t.clone())))
                .collect(),
        )),
        Item::None => None,
    }
}

fn value_json(value: &toml_edit::Value) -> Option<Value> {
    Some(match value {
        toml_edit::Value::String(s) => Value::from(s.value().as_str()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => Value::from(*f.value()),
        toml_edit::Value::Boolean(b) => Value::from(*b.value()),
        toml_edit::Value::Array(items) => {
            Value::Array(items.iter().filter_map(value_json).collect())
        }
        toml_edit::Value::InlineTable(table) => Value::Object(
            table
                .iter()
                .filter_map(|(k, v)| Some((k.to_owned(), value_json(v)?)))
                .collect(),
        ),
        toml_edit::Value::Datetime(_) => return None,
    })
}

/// A user's JSON fields as a `[[users]]` table, sub-tables as `[users.x]`.
fn toml_table(user: &Map<String, Value>) -> Table {
    let mut table = Table::new();
    for (key, value) in user {
        match value {
            Value::Object(map) => {
                let mut sub = Table::new();
                for (k, v) in map {
                    if let Some(v) = toml_value(v) {
                        sub.insert(k, Item::Value(v));
                    }
                }
                table.insert(key, Item::Table(sub));
            }
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                let mut list = ArrayOfTables::new();
                for item in items {
                    if let Value::Object(map) = item {
                        list.push(toml_table(map));
                    }
                }
                table.insert(key, Item::ArrayOfTables(list));
            }
            other => {
                if let Some(v) = toml_value(other) {
                    table.insert(key, Item::Value(v));
                }
            }
        }
    }
    table
}

fn toml_value(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::String(s) => toml_edit::Value::from(s.as_str()),
        Value::Bool(b) => toml_edit::Value::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml_edit::Value::from(i),
            None => toml_edit::Value::from(n.as_f64()?),
        },
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(toml_value(item)?);
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(map) => {
            let mut inline = toml_edit::InlineTable::new();
            for (k, v) in map {
                inline.insert(k, toml_value(v)?);
            }
            toml_edit::Value::InlineTable(inline)
        }
        Value::Null => return None,
    })
}
