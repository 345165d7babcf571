//! Answers without a language model.
//!
//! The question is routed to the same tools the model would use: an action request becomes a
//! proposal; "how much did X produce yesterday?", "how is X doing?", "which of my systems
//! underperformed this week?" and "when did X last send data?" are answered from the tools'
//! exact figures; a state code gets the table's explanation; anything else gets the best
//! knowledge passages, quoted, with their article and heading. Nothing is made up: every
//! sentence is a tool's, the table's or an article's.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::data::{self, ActionIntent, Resolved, SystemRef};
use crate::tools::{SystemInfo, ToolSet, Toolbox};
use crate::{Answer, Citation};

/// What an offline answer says about itself.
pub const NOTICE: &str = "No language model is configured on this Moose: this answer was put together from Moose's data, state-code table and knowledge base.";

/// Passages quoted at most.
const PASSAGES: usize = 2;

/// Answers `question` (about `system_id`, if the client named one) with `tools`.
pub async fn answer<T: Toolbox>(
    question: &str,
    system_id: Option<&str>,
    tools: &mut ToolSet<'_, T>,
) -> Answer {
    let mut a = route(question, system_id, tools).await;
    for c in std::mem::take(&mut tools.citations) {
        if !a.citations.contains(&c) {
            a.citations.push(c);
        }
    }
    a.consulted = tools.records.clone();
    a.proposed = tools.proposals.clone();
    a
}

async fn route<T: Toolbox>(
    question: &str,
    system_id: Option<&str>,
    tools: &mut ToolSet<'_, T>,
) -> Answer {
    if let Some(intent) = data::action_intent(question) {
        return propose(intent, question, system_id, tools).await;
    }
    if let Some(q) = data::energy_question(question) {
        return match which(question, system_id, tools).await {
            Ok(s) => energy(&s, q, tools).await,
            Err(a) => a,
        };
    }
    if let Some(period) = data::fleet_question(question) {
        return fleet(period, tools).await;
    }
    if let Some(days) = data::kpi_question(question) {
        return match which(question, system_id, tools).await {
            Ok(s) => kpis(&s, days, tools).await,
            Err(a) => a,
        };
    }
    if data::freshness_question(question) {
        return freshness(question, system_id, tools).await;
    }
    if data::status_question(question) && !names_a_state_code(question) {
        return match which(question, system_id, tools).await {
            Ok(s) => status(&s, tools).await,
            Err(a) => a,
        };
    }
    knowledge(question, tools).await
}

/// The caller's system the question (or the client's `system_id`) means, or the answer that
/// asks which one. A `system_id` that is not the caller's is treated as not named.
async fn which<T: Toolbox>(
    question: &str,
    system_id: Option<&str>,
    tools: &mut ToolSet<'_, T>,
) -> Result<SystemInfo, Answer> {
    let mine = match tools.systems().await {
        Ok(m) => m,
        Err(e) => return Err(failed(&e.to_string())),
    };
    let refs: Vec<SystemRef> = mine
        .iter()
        .map(|s| SystemRef {
            id: s.id.clone(),
            name: s.name.clone(),
        })
        .collect();
    let resolved = match system_id {
        Some(id) => refs
            .iter()
            .find(|r| r.id == id)
            .map_or(Resolved::NoneOfYours, Resolved::One),
        None => data::resolve_system(question, &refs),
    };
    match resolved {
        Resolved::One(r) => mine
            .iter()
            .find(|s| s.id == r.id)
            .cloned()
            .ok_or_else(|| data::unresolved_answer(&Resolved::NoneOfYours)),
        other => Err(data::unresolved_answer(&other)),
    }
}

fn failed(why: &str) -> Answer {
    Answer::offline(
        format!("Moose could not read that data just now ({why}). Please try again."),
        Vec::new(),
    )
}

fn reference(s: &SystemInfo) -> SystemRef {
    SystemRef {
        id: s.id.clone(),
        name: s.name.clone(),
    }
}

async fn energy<T: Toolbox>(
    s: &SystemInfo,
    q: data::EnergyQuestion,
    tools: &mut ToolSet<'_, T>,
) -> Answer {
    let day = match q.day {
        data::Day::Today => "today",
        data::Day::Yesterday => "yesterday",
    };
    let v = tools
        .call("get_energy", &json!({"system": s.id, "from": day}))
        .await;
    if let Some(e) = v["error"].as_str() {
        return failed(e);
    }
    let row = &v["rows"][0];
    let fact = data::EnergyFact {
        system: reference(s),
        date: v["from"].as_str().unwrap_or_default().to_owned(),
        day: q.day,
        produced_wh: row["produced_kwh"].as_f64().map(|k| k * 1000.0),
        hidden_wh: row["hidden_kwh"].as_f64().map(|k| k * 1000.0),
    };
    data::energy_answer(&fact)
}

async fn kpis<T: Toolbox>(s: &SystemInfo, days: i64, tools: &mut ToolSet<'_, T>) -> Answer {
    let to = s.today.yesterday().unwrap_or(s.today);
    let from = to
        .checked_sub(jiff::Span::new().days(days - 1))
        .unwrap_or(to);
    let v = tools
        .call(
            "get_kpis",
            &json!({"system": s.id, "from": from.to_string(), "to": to.to_string()}),
        )
        .await;
    if let Some(e) = v["error"].as_str() {
        return failed(e);
    }
    let k = &v["kpis"];
    let mut parts = Vec::new();
    if let Some(wh) = k["energy"]["produced_wh"].as_f64() {
        parts.push(format!("produced {:.2} kWh", wh / 1000.0));
    }
    if let Some(y) = k["specific_yield_kwh_per_kwp"].as_f64() {
        parts.push(format!("specific yield {y:.2} kWh/kWp"));
    }
    if let Some(pi) = k["performance_index"].as_f64() {
        parts.push(format!(
            "performance index {pi:.2} (produced ÷ clear-sky expected energy)"
        ));
    }
    if let Some(c) = k["data_completeness"].as_f64() {
        parts.push(format!("data completeness {:.0} %", c * 100.0));
    }
    if k["energy"]["produced_wh"].as_f64().is_some() {
        let (y, pi) = (
            k["unknown"]["specific_yield_kwh_per_kwp"].as_str(),
            k["unknown"]["performance_index"].as_str(),
        );
        match (y, pi) {
            (Some(a), Some(b)) if a == b => {
                parts.push(format!("no specific yield or performance index: {a}"));
            }
            _ => {
                if let Some(why) = y {
                    parts.push(format!("no specific yield: {why}"));
                }
                if let Some(why) = pi {
                    parts.push(format!("no performance index: {why}"));
                }
            }
        }
    }
    let text = if parts.is_empty() {
        format!(
            "Moose has no KPIs for {} from {from} to {to}: no data in that period.",
            s.name
        )
    } else {
        format!(
            "{}, {from} to {to} (site time): {}.",
            s.name,
            parts.join(", ")
        )
    };
    Answer::offline(text, Vec::new())
}

async fn status<T: Toolbox>(s: &SystemInfo, tools: &mut ToolSet<'_, T>) -> Answer {
    let v = tools
        .call("get_system_status", &json!({"system": s.id}))
        .await;
    let never = v["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("not found: no status"));
    if let Some(e) = v["error"].as_str().filter(|_| !never) {
        return failed(e);
    }
    let open = v["open_incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| data::OpenIncident {
            id: i["id"].as_str().unwrap_or_default().to_owned(),
            kind: i["kind"].as_str().unwrap_or_default().to_owned(),
            title: i["title"].as_str().unwrap_or_default().to_owned(),
            since: i["since"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    let fact = data::StatusFact {
        system: reference(s),
        state: v["state"].as_str().map(str::to_owned),
        last_data: v["last_data_at"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| s.last_data.clone()),
        open,
    };
    data::status_answer(&fact)
}

async fn fleet<T: Toolbox>(period: data::Period, tools: &mut ToolSet<'_, T>) -> Answer {
    let name = match period {
        data::Period::Week => "week",
        data::Period::Month => "month",
        data::Period::Yesterday => "yesterday",
    };
    let v = tools
        .call("get_fleet_summary", &json!({"period": name}))
        .await;
    if let Some(e) = v["error"].as_str() {
        return failed(e);
    }
    let standing = |x: &Value| data::Standing {
        system: SystemRef {
            id: x["system"].as_str().unwrap_or_default().to_owned(),
            name: x["name"].as_str().unwrap_or_default().to_owned(),
        },
        performance_index: x["performance_index"].as_f64(),
        specific_yield: x["specific_yield_kwh_per_kwp"].as_f64(),
    };
    let mut standings: Vec<data::Standing> = v["ranked_lowest_first"]
        .as_array()
        .into_iter()
        .flatten()
        .map(standing)
        .collect();
    standings.extend(v["unranked"].as_array().into_iter().flatten().map(standing));
    let mut a = data::fleet_answer(
        period,
        v["from"].as_str().unwrap_or_default(),
        v["to"].as_str().unwrap_or_default(),
        &standings,
    );
    if let Some(n) = v["systems_left_out"].as_u64().filter(|n| *n > 0) {
        a.text.push_str(&format!(
            "\n{n} more of your systems were not ranked; ask about a system by name."
        ));
    }
    a
}

async fn freshness<T: Toolbox>(
    question: &str,
    system_id: Option<&str>,
    tools: &mut ToolSet<'_, T>,
) -> Answer {
    let v = tools.call("get_data_freshness", &json!({})).await;
    if let Some(e) = v["error"].as_str() {
        return failed(e);
    }
    let named = which(question, system_id, tools).await.ok().map(|s| s.id);
    let mut lines = Vec::new();
    let mut citations = Vec::new();
    for s in v["systems"].as_array().into_iter().flatten() {
        let id = s["system"].as_str().unwrap_or_default();
        if named.as_deref().is_some_and(|n| n != id) {
            continue;
        }
        let name = s["name"].as_str().unwrap_or_default();
        lines.push(
            match (s["last_data"].as_str(), s["data_age_minutes"].as_i64()) {
                (Some(at), Some(age)) => {
                    format!("- {name}: newest data ends at {at} ({age} minutes ago)")
                }
                _ => format!("- {name}: no data yet"),
            },
        );
        citations.push(Citation::Data {
            query: "data freshness".into(),
            system: id.to_owned(),
            period: "now".into(),
        });
    }
    let text = if lines.is_empty() {
        "You have no systems to check.".to_owned()
    } else {
        format!("Data freshness:\n{}", lines.join("\n"))
    };
    Answer::offline(text, citations)
}

async fn knowledge<T: Toolbox>(question: &str, tools: &mut ToolSet<'_, T>) -> Answer {
    let mut text = String::new();
    for code in codes_in(question) {
        let v = tools
            .call("explain_state_code", &json!({"code": code}))
            .await;
        let info = &v["explanation"];
        if !info.is_object() {
            continue;
        }
        let who = match info["who"].as_str().unwrap_or_default() {
            "owner" => "The owner can check this.",
            "technician" => "A qualified technician is needed.",
            "grid_operator" => "This is a matter for the grid operator.",
            _ => "Nobody needs to act.",
        };
        text.push_str(&format!(
            "State code {code} ({}): {} Probable cause: {} {who}",
            info["title"].as_str().unwrap_or_default(),
            info["meaning"].as_str().unwrap_or_default(),
            info["cause"].as_str().unwrap_or_default(),
        ));
        if let Some(todo) = info["todo"].as_str() {
            text.push_str(&format!(" What to do: {todo}"));
        }
        text.push_str("\n\n");
    }
    let v = tools
        .call("search_knowledge", &json!({"query": question}))
        .await;
    let passages = v["passages"].as_array().cloned().unwrap_or_default();
    if passages.is_empty() && text.is_empty() {
        text.push_str("I found nothing about this in Moose's knowledge base. Try naming the symptom, the state code or the incident kind (for example \"no data\", \"447\" or \"underperformance\").");
    }
    for p in passages.iter().take(PASSAGES) {
        text.push_str(&format!(
            "From \"{}\" — {}:\n{}\n\n",
            p["title"].as_str().unwrap_or_default(),
            p["heading"].as_str().unwrap_or_default(),
            first_sentences(p["text"].as_str().unwrap_or_default(), 3)
        ));
    }
    Answer::offline(text.trim_end().to_owned(), Vec::new())
}

/// An action request becomes a proposal — at most one per turn, whatever the message says.
async fn propose<T: Toolbox>(
    intent: ActionIntent,
    question: &str,
    system_id: Option<&str>,
    tools: &mut ToolSet<'_, T>,
) -> Answer {
    let request = match intent {
        ActionIntent::Acknowledge => {
            let v = tools.call("list_open_incidents", &json!({})).await;
            let named = which(question, system_id, tools).await.ok().map(|s| s.id);
            let pick = v["incidents"].as_array().into_iter().flatten().find(|i| {
                i["acked_by"].is_null()
                    && named
                        .as_deref()
                        .is_none_or(|n| i["system"].as_str() == Some(n))
            });
            let Some(i) = pick else {
                return Answer::offline(
                    "You have no open, unacknowledged incident to acknowledge.".into(),
                    Vec::new(),
                );
            };
            json!({"action": "acknowledge_incident", "incident_id": i["id"]})
        }
        ActionIntent::Snooze | ActionIntent::Maintenance => {
            let s = match which(question, system_id, tools).await {
                Ok(s) => s,
                Err(a) => return a,
            };
            let default = if intent == ActionIntent::Snooze {
                24
            } else {
                4
            };
            let hours = data::duration_hours(question).unwrap_or(default);
            let now = Timestamp::now();
            let until = now + SignedDuration::from_hours(hours);
            if intent == ActionIntent::Snooze {
                json!({"action": "snooze_system", "system_id": s.id, "until": until.to_string()})
            } else {
                json!({"action": "plan_maintenance", "system_id": s.id, "from": now.to_string(),
                       "to": until.to_string(), "reason": "planned in the assistant"})
            }
        }
    };
    let v = tools.call("propose_action", &request).await;
    if let Some(e) = v["error"].as_str() {
        return Answer::offline(format!("I cannot propose that: {e}."), Vec::new());
    }
    let p = &v["proposed"];
    let text = format!(
        "I can {}. Nothing is done until you confirm: POST {} within {} minutes.",
        p["summary"].as_str().unwrap_or("do this"),
        p["confirm"].as_str().unwrap_or_default(),
        p["expires_in_minutes"]
    );
    Answer::offline(text, Vec::new())
}

/// Whether the question names a state code the table knows (then it is a code question, not
/// a status one).
pub fn names_a_state_code(question: &str) -> bool {
    codes_in(question).iter().any(|c| {
        moose_incidents::codes::CodeTable::builtin()
            .get(*c)
            .is_some()
    })
}

/// Three-digit numbers in the question that could be state codes, in order, without repeats.
fn codes_in(question: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for word in question.split(|c: char| !c.is_ascii_digit()) {
        if word.len() == 3
            && let Ok(n) = word.parse::<i64>()
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

/// The first `n` sentences of a passage, on one line.
pub fn first_sentences(text: &str, n: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = flat.len();
    let mut count = 0;
    for (i, c) in flat.char_indices() {
        if matches!(c, '.' | '!' | '?') && flat[i + 1..].starts_with(' ') {
            count += 1;
            if count == n {
                end = i + 1;
                break;
            }
        }
    }
    flat[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_are_found_once_in_order() {
        assert_eq!(
            codes_in("codes 102, 447 and 102 again, 12345"),
            vec![102, 447]
        );
        assert!(names_a_state_code("what does 447 mean?"));
        assert!(!names_a_state_code("what does 999 mean?"));
        assert_eq!(first_sentences("One. Two! Three? Four.", 2), "One. Two!");
    }
}
