//! `itsmid users list | show | add | edit | remove`: manual users in the
//! identities file. The flags become the user's fields here; the form's
//! rules are in `form.rs` and the file edits in `edit/users.rs`.
//!
//! A refused change writes nothing (exit 2).

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{Args as ClapArgs, Subcommand};
use serde_json::{Map, Value};

use super::{Args, emit};
use crate::app;
use crate::edit::IdentitiesFile;
use crate::edit::users::{append_user, remove_user, replace_user, save};
use crate::form::{self, text, user_json};
use crate::identities::Identities;
use crate::printable::{cell, printable};
use crate::verdict::Verdict;

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

pub async fn run(args: &Args, command: &UsersCommand) -> anyhow::Result<Verdict> {
    let (config, identities) = app::load_inputs(&args.config)?;
    match command {
        UsersCommand::List => list(args, &identities),
        UsersCommand::Show { id } => show(args, &identities, id),
        UsersCommand::Add(input) => {
            let fields = input_fields(input)?;
            let urid = text(&fields, "unique_record_id").unwrap_or_default();
            form::validate(&config, &identities, &fields, None)?;
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
            let merged = form::merge_edit(current, &changes, remove_itsm)?;
            form::validate(&config, &identities, &merged, Some(index))?;
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

fn list(args: &Args, identities: &Identities) -> anyhow::Result<Verdict> {
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
        let entries = user
            .itsm
            .iter()
            .map(|e| match &e.itsm_user_id {
                Some(id) => format!("{} ({id})", e.integration),
                None => e.integration.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        table.add_row(vec![
            cell(user.unique_record_id.as_str()),
            cell(user.attribute("email_addr").unwrap_or("")),
            cell(user.attribute("full_name").unwrap_or("")),
            cell(user.work_status.as_deref().unwrap_or("")),
            cell(&entries),
        ]);
    }
    let table = format!(
        "{} manual users in {}\n{table}\n",
        identities.users.len(),
        identities.path.display()
    );
    emit(args, &json, &table)?;
    Ok(Verdict::InOrder)
}

fn show(args: &Args, identities: &Identities, id: &str) -> anyhow::Result<Verdict> {
    let index = user_index(identities, id)?;
    let user = Value::Object(user_json(&identities.users[index]));
    let json = serde_json::to_string_pretty(&user).context("cannot print the user")?;
    emit(args, &json, &format!("{json}\n"))?;
    Ok(Verdict::InOrder)
}

async fn finish(
    args: &Args,
    action: &str,
    urid: &str,
    identities: &Identities,
    resolve: bool,
) -> anyhow::Result<Verdict> {
    let mut verdict = Verdict::InOrder;
    let mut resolved = Value::Null;
    if resolve {
        // The file as just written, read afresh.
        let (config, fresh) = app::load_inputs(&args.config)?;
        let progress = crate::progress::Progress::new();
        let plan = app::resolve(&config, &fresh, true, Some(urid), &progress).await?;
        verdict = plan.verdict();
        resolved = serde_json::to_value(&plan).context("cannot print the plan")?;
    }
    let json = serde_json::json!({
        "action": action,
        "unique_record_id": urid,
        "file": identities.path.display().to_string(),
        "resolve": resolved,
    });
    let mut table = format!(
        "{action} manual user \"{}\" in {}\n",
        printable(urid),
        identities.path.display()
    );
    if let Some(changes) = resolved.get("summary").and_then(|s| s.get("changes")) {
        table.push_str(&format!(
            "resolve: {changes} change(s) written from the systems\n"
        ));
    }
    emit(
        args,
        &serde_json::to_string_pretty(&json).context("cannot print")?,
        &table,
    )?;
    Ok(verdict)
}

fn user_index(identities: &Identities, id: &str) -> anyhow::Result<usize> {
    identities
        .users
        .iter()
        .position(|u| u.unique_record_id.as_str() == id.trim())
        .ok_or_else(|| {
            anyhow!(
                "{}: no manual user has unique_record_id \"{id}\"; `itsmid users list` shows them",
                identities.path.display()
            )
        })
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
