//! Questions about the fleet's own figures, answered from facts the caller may see.
//!
//! This module does no I/O: the host (the API) reads the facts under the caller's identity and
//! the access policy — the same services and rule as the HTTP API — and hands them in. A system
//! named in words is resolved among the caller's systems only, so no phrasing can reach
//! another user's data: what is not in the list does not exist here.

use serde::Serialize;

use crate::{Answer, Citation};

/// Which day a question asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    /// The site's today (so far).
    Today,
    /// The site's yesterday.
    Yesterday,
}

/// A question about a system's production on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnergyQuestion {
    /// The day.
    pub day: Day,
}

/// A system the caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRef {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// Which of the caller's systems a question means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<'a> {
    /// Exactly one.
    One(&'a SystemRef),
    /// Several match equally well.
    Several(Vec<&'a SystemRef>),
    /// None of the caller's systems.
    NoneOfYours,
}

/// A day's energy of a system, as the energy API gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyFact {
    /// The system.
    pub system: SystemRef,
    /// The site-local date.
    pub date: String,
    /// The day asked about.
    pub day: Day,
    /// Production in the 5-minute records, Wh (`None`: no data).
    pub produced_wh: Option<f64>,
    /// Production Solar.web's day total carries beyond the records, Wh.
    pub hidden_wh: Option<f64>,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether a question asks how much a system produced today or yesterday.
pub fn energy_question(question: &str) -> Option<EnergyQuestion> {
    let w = words(question);
    let about_energy = w.iter().any(|x| {
        matches!(
            x.as_str(),
            "produce"
                | "produced"
                | "production"
                | "produces"
                | "energy"
                | "kwh"
                | "yield"
                | "generate"
                | "generated"
                | "generation"
                | "output"
        )
    });
    let day = if w.iter().any(|x| x == "yesterday") {
        Day::Yesterday
    } else if w.iter().any(|x| x == "today") {
        Day::Today
    } else {
        return None;
    };
    about_energy.then_some(EnergyQuestion { day })
}

/// Whether a question asks how a system is doing (its status and open incidents): "status",
/// "how is X doing", "what's wrong with X", "open/any incidents". Questions about incident
/// kinds in general ("what should I check for a no-data incident?") stay knowledge questions.
pub fn status_question(question: &str) -> bool {
    let w = words(question);
    let has = |x: &str| w.iter().any(|y| y == x);
    let incidents = has("incident") || has("incidents");
    has("status")
        || (has("how") && has("doing"))
        || (has("wrong") && has("with"))
        || (incidents && (has("open") || has("any")))
}

/// One open incident as the status answer tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    /// Its id.
    pub id: String,
    /// Its kind (`no_data`, `device_error`, …).
    pub kind: String,
    /// Its title.
    pub title: String,
    /// Since when, site time, as shown.
    pub since: String,
}

/// A system's status as the status API gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusFact {
    /// The system.
    pub system: SystemRef,
    /// Overall state (`ok`, `offline`, `faulty`, …; `None` before the first status pass).
    pub state: Option<String>,
    /// End of the newest record, as shown.
    pub last_data: Option<String>,
    /// Its open incidents.
    pub open: Vec<OpenIncident>,
}

/// The answer to a status question.
pub fn status_answer(fact: &StatusFact) -> Answer {
    let name = &fact.system.name;
    let mut text = match &fact.state {
        Some(state) => format!("{name} is {}.", state.replace('_', " ")),
        None => format!("{name} has not been checked by device-status-polling yet."),
    };
    match &fact.last_data {
        Some(at) => text.push_str(&format!(" Its newest data ends at {at}.")),
        None => text.push_str(" It has not sent any data yet."),
    }
    if fact.open.is_empty() {
        text.push_str(" It has no open incident.");
    } else {
        text.push_str(&format!(" Open incidents ({}):", fact.open.len()));
        for i in &fact.open {
            text.push_str(&format!(
                "\n- {} ({}, since {}, id {})",
                i.title, i.kind, i.since, i.id
            ));
        }
    }
    Answer::offline(
        text,
        vec![Citation::Data {
            query: "system status".into(),
            system: fact.system.id.clone(),
            period: "now".into(),
        }],
    )
}

/// The period of a fleet question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The last 7 days up to yesterday.
    Week,
    /// The last 30 days up to yesterday.
    Month,
    /// Yesterday.
    Yesterday,
}

impl Period {
    /// Days back from yesterday (inclusive of yesterday).
    pub fn days(self) -> i64 {
        match self {
            Self::Week => 7,
            Self::Month => 30,
            Self::Yesterday => 1,
        }
    }
}

/// Whether a question asks which of the caller's systems did worst ("which of my systems
/// underperformed this week?"), and over which period (a week unless it says otherwise).
pub fn fleet_question(question: &str) -> Option<Period> {
    let w = words(question);
    let has = |x: &str| w.iter().any(|y| y == x);
    // "Why is my system underperforming?" is a knowledge question; "which … underperformed"
    // and "worst" ask for a ranking.
    let ranking = w
        .iter()
        .any(|x| matches!(x.as_str(), "worst" | "lowest" | "weakest"));
    let asks = ranking || (has("which") && w.iter().any(|x| x.starts_with("underperform")));
    if !asks {
        return None;
    }
    Some(if has("month") {
        Period::Month
    } else if has("yesterday") {
        Period::Yesterday
    } else {
        Period::Week
    })
}

/// One system's standing over a period, as the KPI API gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// The system.
    pub system: SystemRef,
    /// Produced / clear-sky expected energy.
    pub performance_index: Option<f64>,
    /// kWh per kWp.
    pub specific_yield: Option<f64>,
}

/// The answer to a fleet question: the (up to three) lowest performance indices of the
/// period, from the KPI API's figures, and how many systems could not be ranked.
pub fn fleet_answer(period: Period, from: &str, to: &str, standings: &[Standing]) -> Answer {
    let mut ranked: Vec<&Standing> = standings
        .iter()
        .filter(|s| s.performance_index.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        a.performance_index
            .unwrap_or(0.0)
            .total_cmp(&b.performance_index.unwrap_or(0.0))
    });
    let unranked = standings.len() - ranked.len();
    let span = match period {
        Period::Yesterday => format!("yesterday ({from})"),
        _ => format!("from {from} to {to}"),
    };
    let mut text = if ranked.is_empty() {
        format!("None of your systems has a performance index {span}.")
    } else {
        format!("Lowest performance index {span} (produced ÷ clear-sky expected energy):")
    };
    let mut citations = Vec::new();
    for s in ranked.iter().take(3) {
        text.push_str(&format!(
            "\n- {}: performance index {:.2}{}",
            s.system.name,
            s.performance_index.unwrap_or(0.0),
            s.specific_yield
                .map(|y| format!(", {y:.2} kWh/kWp"))
                .unwrap_or_default()
        ));
        citations.push(Citation::Data {
            query: "kpis".into(),
            system: s.system.id.clone(),
            period: format!("{from}/{to}"),
        });
    }
    if unranked > 0 {
        text.push_str(&format!(
            "\n{unranked} system(s) could not be ranked (no data or no position for the clear-sky model)."
        ));
    }
    Answer::offline(text, citations)
}

/// An action the caller asks the assistant to take. The assistant only ever *proposes* it:
/// a separate confirming request by the user executes it, under the normal access rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionIntent {
    /// Acknowledge an open incident.
    Acknowledge,
    /// Hold a system's notifications for a while.
    Snooze,
    /// Open a maintenance window on a system.
    Maintenance,
}

/// Whether a question asks for an action ("acknowledge the open incident", "snooze Cologne for
/// 2 days", "open a maintenance window on Milan for 6 hours").
pub fn action_intent(question: &str) -> Option<ActionIntent> {
    let w = words(question);
    let has = |x: &str| w.iter().any(|y| y == x);
    // "How do I acknowledge an incident?" asks for knowledge, not for an action.
    if ["how", "what", "why", "when", "can", "should"]
        .iter()
        .any(|q| w.first().is_some_and(|f| f == q))
    {
        return None;
    }
    if w.iter()
        .any(|x| matches!(x.as_str(), "acknowledge" | "ack" | "acknowledged"))
    {
        return Some(ActionIntent::Acknowledge);
    }
    if w.iter()
        .any(|x| matches!(x.as_str(), "snooze" | "mute" | "silence"))
        && !has("how")
    {
        return Some(ActionIntent::Snooze);
    }
    let asks = w
        .iter()
        .any(|x| matches!(x.as_str(), "open" | "plan" | "schedule" | "start" | "put"));
    (has("maintenance") && asks && !has("how") && !has("when") && !has("what"))
        .then_some(ActionIntent::Maintenance)
}

/// "for 3 days", "for 12 hours", "2h": the duration a request names, in hours (at most 30 days).
pub fn duration_hours(question: &str) -> Option<i64> {
    let w = words(question);
    for (i, x) in w.iter().enumerate() {
        let (num, unit) = match x.find(|c: char| !c.is_ascii_digit()) {
            Some(0) | None => (x.as_str(), w.get(i + 1).map_or("", String::as_str)),
            Some(k) => (&x[..k], &x[k..]),
        };
        let Ok(n) = num.parse::<i64>() else { continue };
        let hours = match unit {
            "h" | "hour" | "hours" | "hr" | "hrs" => n,
            "d" | "day" | "days" => n * 24,
            "week" | "weeks" => n * 168,
            _ => continue,
        };
        return Some(hours.clamp(1, 720));
    }
    None
}

/// Whether a question asks for a system's KPIs over a period ("specific yield of Cologne over
/// the last 7 days", "performance index last month"), and over how many days up to yesterday.
/// Without a period it is a question about what the KPI means (knowledge).
pub fn kpi_question(question: &str) -> Option<i64> {
    let w = words(question);
    let has = |x: &str| w.iter().any(|y| y == x);
    let kpi = (has("specific") && has("yield"))
        || (has("performance") && (has("index") || has("ratio")))
        || has("kpi")
        || has("kpis")
        || has("completeness");
    if !kpi {
        return None;
    }
    let days = w.iter().enumerate().find_map(|(i, x)| {
        let n: i64 = x.parse().ok()?;
        w.get(i + 1)
            .is_some_and(|u| u == "days" || u == "day")
            .then_some(n)
    });
    days.or(if has("week") {
        Some(7)
    } else if has("month") {
        Some(30)
    } else if has("year") {
        Some(365)
    } else if has("yesterday") {
        Some(1)
    } else {
        None
    })
    .map(|d| d.clamp(1, 366))
}

/// Whether a question asks how fresh the data is ("when did X last send data?", "is my data up
/// to date?").
pub fn freshness_question(question: &str) -> bool {
    let w = words(question);
    let has = |x: &str| w.iter().any(|y| y == x);
    has("fresh")
        || has("freshness")
        || (has("up") && has("to") && has("date"))
        || (has("last")
            && (has("data") || has("report") || has("reported") || has("send") || has("sent")))
        || (has("newest") && has("data"))
}

/// Words of a system name that say nothing about which system it is.
const GENERIC: &[&str] = &[
    "pv", "solar", "system", "plant", "the", "and", "roof", "park",
];

/// Resolves the system a question means among `mine`: one whose id the question contains, or
/// the one whose name shares the most distinctive words with it; if the caller has a single
/// system and the question names none, that one.
pub fn resolve_system<'a>(question: &str, mine: &'a [SystemRef]) -> Resolved<'a> {
    let asked = words(question);
    let lower = question.to_lowercase();
    if let Some(s) = mine
        .iter()
        .find(|s| s.id.len() >= 3 && lower.contains(&s.id.to_lowercase()))
    {
        return Resolved::One(s);
    }
    // A short id ("A") counts only as a whole word written exactly so ("System A"), so that the
    // article "a" does not name it.
    let tokens: Vec<&str> = question
        .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
        .collect();
    if let Some(s) = mine
        .iter()
        .find(|s| s.id.len() < 3 && tokens.contains(&s.id.as_str()))
    {
        return Resolved::One(s);
    }
    let score = |s: &SystemRef| {
        words(&s.name)
            .iter()
            .filter(|w| {
                (w.len() >= 3 || w.chars().all(|c| c.is_ascii_digit()))
                    && !GENERIC.contains(&w.as_str())
            })
            .filter(|w| asked.contains(w))
            .count()
    };
    let best = mine.iter().map(score).max().unwrap_or(0);
    if best == 0 {
        return match mine {
            [only] => Resolved::One(only),
            _ => Resolved::NoneOfYours,
        };
    }
    let top: Vec<&SystemRef> = mine.iter().filter(|s| score(s) == best).collect();
    match top.as_slice() {
        [one] => Resolved::One(one),
        _ => Resolved::Several(top),
    }
}

/// The answer to an energy question, from the fact the energy API gave.
pub fn energy_answer(fact: &EnergyFact) -> Answer {
    let when = match fact.day {
        Day::Today => "today so far",
        Day::Yesterday => "yesterday",
    };
    let mut text = match fact.produced_wh {
        Some(wh) => format!(
            "{} produced {:.2} kWh {when} ({}, site time).",
            fact.system.name,
            wh / 1000.0,
            fact.date
        ),
        None => format!(
            "Moose has no data from {} for {when} ({}, site time).",
            fact.system.name, fact.date
        ),
    };
    if let Some(hidden) = fact.hidden_wh {
        text.push_str(&format!(
            " Solar.web's own day total carries {:.2} kWh more that the 5-minute records miss (a communication loss).",
            hidden / 1000.0
        ));
    }
    Answer::offline(
        text,
        vec![Citation::Data {
            query: "daily energy".into(),
            system: fact.system.id.clone(),
            period: fact.date.clone(),
        }],
    )
}

/// The answer when the question's system is not clear: which of the caller's systems it could
/// be, or that none of theirs matches (the same words whether the name exists elsewhere or not).
pub fn unresolved_answer(resolved: &Resolved<'_>) -> Answer {
    let text = match resolved {
        Resolved::Several(list) => format!(
            "Which system do you mean: {}?",
            list.iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "None of the systems you can see matches that question. Name one of your systems (GET /api/systems lists them).".to_owned(),
    };
    Answer::offline(text, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: &str, name: &str) -> SystemRef {
        SystemRef {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_status_answer_lists_the_open_incidents() {
        assert!(status_question("How is the Cologne roof doing?"));
        assert!(status_question("any open incidents at Milan?"));
        assert!(!status_question("what does 447 mean?"));
        assert!(!status_question(
            "what should I check for a no data incident?"
        ));
        let fact = StatusFact {
            system: s("a-1", "Cologne Roof"),
            state: Some("faulty".into()),
            last_data: Some("2026-06-10T10:05:00Z".into()),
            open: vec![OpenIncident {
                id: "device_error-1-a-1".into(),
                kind: "device_error".into(),
                title: "Insulation fault".into(),
                since: "2026-06-10T09:00:00Z".into(),
            }],
        };
        let a = status_answer(&fact);
        assert!(a.text.starts_with("Cologne Roof is faulty."), "{}", a.text);
        assert!(
            a.text.contains("Insulation fault (device_error"),
            "{}",
            a.text
        );
        let quiet = StatusFact {
            state: None,
            last_data: None,
            open: Vec::new(),
            ..fact
        };
        assert!(status_answer(&quiet).text.contains("not sent any data yet"));
    }

    #[test]
    fn the_fleet_answer_ranks_the_lowest_performance_indices() {
        assert_eq!(
            fleet_question("which of my systems underperformed this week?"),
            Some(Period::Week)
        );
        assert_eq!(
            fleet_question("worst system last month"),
            Some(Period::Month)
        );
        assert_eq!(fleet_question("how is Cologne doing?"), None);
        assert_eq!(
            fleet_question("why is my system underperforming compared to the neighbours?"),
            None,
            "a knowledge question"
        );
        let st = |id: &str, pi: Option<f64>| Standing {
            system: s(id, &format!("Plant {id}")),
            performance_index: pi,
            specific_yield: pi.map(|p| p * 5.0),
        };
        let a = fleet_answer(
            Period::Week,
            "2026-06-01",
            "2026-06-07",
            &[
                st("a", Some(0.8)),
                st("b", Some(0.4)),
                st("c", None),
                st("d", Some(0.6)),
                st("e", Some(0.9)),
            ],
        );
        let lines: Vec<&str> = a.text.lines().collect();
        assert!(
            lines[1].starts_with("- Plant b: performance index 0.40"),
            "{}",
            a.text
        );
        assert!(lines[2].starts_with("- Plant d"), "{}", a.text);
        assert!(lines[3].starts_with("- Plant a"), "{}", a.text);
        assert!(
            a.text.contains("1 system(s) could not be ranked"),
            "{}",
            a.text
        );
        assert_eq!(a.citations.len(), 3);
    }

    #[test]
    fn an_acknowledgement_request_is_an_action_intent() {
        assert_eq!(
            action_intent("please acknowledge the open incident"),
            Some(ActionIntent::Acknowledge)
        );
        assert_eq!(action_intent("what does acknowledgement mean"), None);
        assert_eq!(
            action_intent("snooze Cologne for 2 days"),
            Some(ActionIntent::Snooze)
        );
        assert_eq!(
            action_intent("open a maintenance window on Milan for 6 hours"),
            Some(ActionIntent::Maintenance)
        );
        assert_eq!(action_intent("how often is maintenance needed?"), None);
        assert_eq!(action_intent("how do I acknowledge an incident?"), None);
        assert_eq!(duration_hours("snooze Cologne for 2 days"), Some(48));
        assert_eq!(duration_hours("for 6 hours please"), Some(6));
        assert_eq!(duration_hours("3h"), Some(3));
        assert_eq!(duration_hours("for 999 days"), Some(720));
        assert_eq!(duration_hours("the 447 code"), None);
        assert!(freshness_question("When did Cologne last send data?"));
        assert_eq!(
            kpi_question("What was the specific yield of Cologne over the last 7 days?"),
            Some(7)
        );
        assert_eq!(kpi_question("performance index last month"), Some(30));
        assert_eq!(kpi_question("what is specific yield in kWh/kWp?"), None);
        assert!(freshness_question("is my data up to date"));
        assert!(!freshness_question("what does 447 mean"));
    }

    #[test]
    fn energy_questions_are_recognised_with_their_day() {
        assert_eq!(
            energy_question("How much did my roof produce yesterday?"),
            Some(EnergyQuestion {
                day: Day::Yesterday
            })
        );
        assert_eq!(
            energy_question("what's today's energy of Cologne?").map(|q| q.day),
            Some(Day::Today)
        );
        assert_eq!(
            energy_question("how much energy did it make last week?"),
            None,
            "only today and yesterday are answered offline"
        );
        assert_eq!(
            energy_question("energy today at Cologne").map(|q| q.day),
            Some(Day::Today)
        );
        assert_eq!(energy_question("what does 447 mean?"), None);
    }

    #[test]
    fn a_system_named_in_words_is_found_among_the_callers_only() {
        let mine = vec![
            s("a-1", "Cologne PV 3"),
            s("b-2", "Milan PV 1"),
            s("c-3", "Milan Roof 2"),
        ];
        assert_eq!(
            resolve_system("how did the Cologne one do yesterday?", &mine),
            Resolved::One(&mine[0])
        );
        assert!(matches!(
            resolve_system("and Milan?", &mine),
            Resolved::Several(v) if v.len() == 2
        ));
        assert_eq!(
            resolve_system("energy of b-2 today", &mine),
            Resolved::One(&mine[1])
        );
        assert_eq!(
            resolve_system("how did Vienna produce?", &mine),
            Resolved::NoneOfYours,
            "a name that is not the caller's resolves to nothing"
        );
        let single = vec![s("x", "Home")];
        assert_eq!(
            resolve_system("what did I produce today?", &single),
            Resolved::One(&single[0])
        );
    }

    #[test]
    fn the_answer_states_the_energy_apis_figure_and_cites_it() {
        let fact = EnergyFact {
            system: s("a-1", "Cologne PV 3"),
            date: "2026-06-10".into(),
            day: Day::Yesterday,
            produced_wh: Some(23_456.0),
            hidden_wh: None,
        };
        let a = energy_answer(&fact);
        assert_eq!(
            a.text,
            "Cologne PV 3 produced 23.46 kWh yesterday (2026-06-10, site time)."
        );
        assert_eq!(
            a.citations,
            vec![Citation::Data {
                query: "daily energy".into(),
                system: "a-1".into(),
                period: "2026-06-10".into()
            }]
        );
    }
}
