//! The route table: every `/api/*` route in one row with its access rule, its handler and its
//! OpenAPI description (summary, parameters, request body, success status and response body).
//!
//! The router (`access.rs`), the access-matrix test and the OpenAPI document (`openapi.rs`) are
//! all built from these rows, so a route cannot exist without a rule or a description, and the
//! three cannot drift apart.

use axum::routing::{MethodRouter, delete, get, patch, post, put};
use moose_auth::{OrgRole, Rule};
use serde_json::Value;

use crate::AppState;
use crate::routes::{auth, chat, fleet, incidents, notifications, status, systems, users};
use crate::schema::{
    any, array, body, boolean, count, date, instant, int, map, nullable, number, object, one_of,
    path, query, reference, string, text,
};

/// One declared route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path, with `{system}`, `{user}`, `{key}`, `{incident}`, `{notification}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub rule: Rule,
    /// The handler.
    pub handler: fn() -> MethodRouter<AppState>,
    /// What the OpenAPI document says of it.
    pub doc: Doc,
}

/// A route's OpenAPI description.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// One line.
    pub summary: &'static str,
    /// Path and query parameters.
    pub params: fn() -> Vec<Value>,
    /// The JSON request body's schema; `None` if the route takes no body.
    pub body: Option<fn() -> Value>,
    /// Whether a body may be left out (`POST /api/incidents/{id}/ack`).
    pub body_optional: bool,
    /// The success status.
    pub ok: u16,
    /// The success body's schema; `None` for no content.
    pub response: Option<fn() -> Value>,
    /// Whether the success body may also be CSV.
    pub csv: bool,
    /// The success can also be sent as server-sent events (`Accept: text/event-stream`).
    pub stream: bool,
}

fn none() -> Vec<Value> {
    Vec::new()
}

const fn doc(summary: &'static str, response: fn() -> Value) -> Doc {
    Doc {
        summary,
        params: none,
        body: None,
        body_optional: false,
        ok: 200,
        response: Some(response),
        csv: false,
        stream: false,
    }
}

impl Doc {
    const fn params(mut self, params: fn() -> Vec<Value>) -> Self {
        self.params = params;
        self
    }

    const fn body(mut self, body: fn() -> Value) -> Self {
        self.body = Some(body);
        self
    }

    const fn status(mut self, ok: u16) -> Self {
        self.ok = ok;
        self
    }

    const fn streamed(mut self) -> Self {
        self.stream = true;
        self
    }

    const fn no_content(mut self) -> Self {
        self.ok = 204;
        self.response = None;
        self
    }
}

fn system_param() -> Value {
    path("system", "Solar.web PV system id")
}

fn user_param() -> Value {
    path("user", "user id")
}

fn incident_param() -> Value {
    path("incident", "incident id, <kind>-<opened ms>-<system>")
}

fn limit(max: i64, default: i64) -> Value {
    query("limit", int(1, max), &format!("1-{max}, default {default}"))
}

/// `from` and `to` of `schema`.
fn range(schema: fn() -> Value, from: &str, to: &str) -> Vec<Value> {
    vec![query("from", schema(), from), query("to", schema(), to)]
}

/// A site-local date or an instant.
fn date_or_instant() -> Value {
    serde_json::json!({"anyOf": [date(), instant()]})
}

/// An e-mail address.
fn email() -> Value {
    serde_json::json!({"type": "string", "format": "email", "maxLength": 254})
}

fn format_param() -> Value {
    query(
        "format",
        one_of(&["json", "csv"]),
        "json (default) or csv; Accept: text/csv also works",
    )
}

fn org_role() -> Value {
    one_of(&["viewer", "technician", "fleet_manager", "admin"])
}

fn system_role() -> Value {
    one_of(&["viewer", "technician", "installer", "owner"])
}

fn status_response() -> Value {
    reference("SystemStatus")
}

fn policy() -> Value {
    reference("EscalationPolicy")
}

fn settings() -> Value {
    reference("NotificationSettings")
}

/// Every `/api/*` route.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "POST",
        path: "/api/auth/login",
        rule: Rule::Public,
        handler: || post(auth::login),
        doc: doc("Sign in with e-mail and password; returns access and refresh tokens", || reference("TokenPair"))
            .body(|| body(&["email", "password"], vec![("email", text(1, 254)), ("password", text(1, 1024))])),
    },
    RouteSpec {
        method: "POST",
        path: "/api/auth/refresh",
        rule: Rule::Public,
        handler: || post(auth::refresh),
        doc: doc("Exchange a refresh token for new tokens (rotating it)", || reference("TokenPair"))
            .body(|| body(&["refresh_token"], vec![("refresh_token", string())])),
    },
    RouteSpec {
        method: "POST",
        path: "/api/auth/logout",
        rule: Rule::Authenticated,
        handler: || post(auth::logout),
        doc: doc("End the caller's session", any).no_content(),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users/me",
        rule: Rule::Authenticated,
        handler: || get(users::me),
        doc: doc("The caller's profile", || reference("User")),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/users/me",
        rule: Rule::Authenticated,
        handler: || patch(users::update_me),
        doc: doc("Change the caller's name, time zone, language or contact points", || reference("User"))
            .body(|| {
                let contacts = body(&[], vec![
                    ("email", nullable(text(3, 254))),
                    ("phone", nullable(string())),
                    ("webhook_url", nullable(text(1, 2048))),
                ]);
                body(&[], vec![
                    ("name", text(1, 200)),
                    ("time_zone", string()),
                    ("language", string()),
                    ("contacts", contacts),
                ])
            }),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users/me/activity",
        rule: Rule::Authenticated,
        handler: || get(users::my_activity),
        doc: doc("The caller's activity log, newest first", || object(&["activity"], vec![("activity", array(reference("Activity")))]))
            .params(|| vec![limit(1000, 50)]),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users/me/systems",
        rule: Rule::Authenticated,
        handler: || get(users::my_systems),
        doc: doc("The systems the caller may see", || object(&["all_systems", "memberships"], vec![
            ("all_systems", boolean()),
            ("memberships", array(reference("Membership"))),
        ])),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || get(users::list),
        doc: doc("Every user (administrators)", || object(&["users"], vec![("users", array(object(&["id", "email", "role", "disabled"], vec![
            ("id", string()),
            ("email", string()),
            ("name", nullable(string())),
            ("role", org_role()),
            ("disabled", boolean()),
        ])))])),
    },
    RouteSpec {
        method: "POST",
        path: "/api/users",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || post(users::create),
        doc: doc("Invite a user with a generated initial password, shown once (administrators)", || object(&["user", "initial_password"], vec![
            ("user", reference("User")),
            ("initial_password", nullable(string())),
        ]))
        .status(201)
        .body(|| body(&["email", "role"], vec![("email", email()), ("role", org_role()), ("name", nullable(text(1, 200)))])),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/users/{user}",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || patch(users::admin_update),
        doc: doc("Change a user's role or disable them (administrators)", || reference("User"))
            .params(|| vec![user_param()])
            .body(|| body(&[], vec![("role", nullable(org_role())), ("disabled", nullable(boolean()))])),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users/{user}/activity",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || get(users::activity_of),
        doc: doc("A user's activity log (administrators)", || object(&["activity"], vec![("activity", array(reference("Activity")))]))
            .params(|| vec![user_param(), limit(1000, 50)]),
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems",
        rule: Rule::Authenticated,
        handler: || get(systems::list),
        doc: doc("The systems the caller may see, a page at a time", || object(&["systems", "next_cursor"], vec![
            ("systems", array(reference("SystemSummary"))),
            ("next_cursor", nullable(string())),
        ]))
        .params(|| vec![
            limit(1000, 100),
            query("cursor", serde_json::json!({"type": "string", "pattern": "^([0-9a-f]{2})+$"}), "next_cursor of the previous page"),
        ]),
    },
    RouteSpec {
        method: "GET",
        path: "/api/fleet/summary",
        rule: Rule::Authenticated,
        handler: || get(fleet::summary),
        doc: doc("The caller's fleet: each system's state, today's energy against the clear-sky expectation so far, open incidents and data age, a page at a time, with totals over all", || object(&["systems", "totals", "next_cursor"], vec![
            ("systems", array(object(&["id", "name", "state", "today", "open_incidents"], vec![
                ("id", string()),
                ("name", string()),
                ("state", one_of(&["faulty", "offline", "not_producing", "underperforming", "maintenance", "ok", "unknown"])),
                ("peak_power_w", nullable(number())),
                ("location", nullable(any())),
                ("today", object(&["date"], vec![
                    ("date", date()),
                    ("produced_wh", nullable(number())),
                    ("expected_clear_sky_wh", nullable(number())),
                    ("specific_yield_kwh_per_kwp", nullable(number())),
                ])),
                ("open_incidents", count()),
                ("last_data_at", nullable(instant())),
                ("data_age_s", nullable(count())),
            ]))),
            ("totals", object(&["systems", "by_state", "open_incidents", "today_produced_wh", "today_expected_clear_sky_wh"], vec![
                ("systems", count()),
                ("by_state", map(count())),
                ("open_incidents", count()),
                ("today_produced_wh", number()),
                ("today_expected_clear_sky_wh", number()),
            ])),
            ("next_cursor", nullable(string())),
        ]))
        .params(|| vec![
            limit(1000, 100),
            query("cursor", serde_json::json!({"type": "string", "pattern": "^([0-9a-f]{2})+$"}), "next_cursor of the previous page"),
            query("state", one_of(&["faulty", "offline", "not_producing", "underperforming", "maintenance", "ok", "unknown"]), "only systems in this state"),
        ]),
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}",
        rule: Rule::SystemRead,
        handler: || get(systems::detail),
        doc: doc("A system: metadata, devices, last data time, today's energy", || reference("SystemSummary"))
            .params(|| vec![system_param()]),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/systems/{system}",
        rule: Rule::SystemManage,
        handler: || patch(systems::update),
        doc: doc("Set the site's position (Solar.web has none)", || reference("SystemSummary"))
            .params(|| vec![system_param()])
            .body(|| body(&["latitude", "longitude"], vec![
                ("latitude", serde_json::json!({"type": "number", "minimum": -90, "maximum": 90})),
                ("longitude", serde_json::json!({"type": "number", "minimum": -180, "maximum": 180})),
            ])),
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}/production",
        rule: Rule::SystemRead,
        handler: || get(systems::production),
        doc: Doc {
            csv: true,
            ..doc("Production time series in Wh with each interval's clear-sky expectation; gaps are null", || object(&["system_id", "time_zone", "resolution", "unit", "from", "to", "points"], vec![
                ("system_id", string()),
                ("time_zone", string()),
                ("resolution", string()),
                ("unit", string()),
                ("from", instant()),
                ("to", instant()),
                ("points", array(object(&["start"], vec![("start", instant())]))),
            ]))
            .params(|| {
                let mut p = vec![system_param()];
                p.extend(range(
                    date_or_instant,
                    "site-local date (2026-06-01) or instant (2026-06-01T10:00:00Z), 1970 to 2199",
                    "site-local date or instant",
                ));
                p.push(query("resolution", one_of(&["5m", "15m", "1h", "1d", "1mo"]), "5m, 15m, 1h (default), 1d or 1mo"));
                p.push(format_param());
                p
            })
        },
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}/energy",
        rule: Rule::SystemRead,
        handler: || get(systems::energy),
        doc: Doc {
            csv: true,
            ..doc("Energy per local day, month or year, in Wh", || object(&["system_id", "period", "unit", "from", "to", "energy"], vec![
                ("system_id", string()),
                ("period", one_of(&["day", "month", "year"])),
                ("unit", string()),
                ("from", date()),
                ("to", date()),
                ("energy", array(object(&["period", "energy"], vec![("period", string()), ("energy", reference("Energy"))]))),
            ]))
            .params(|| {
                let mut p = vec![system_param(), query("period", one_of(&["day", "month", "year"]), "day (default), month or year")];
                p.extend(range(date, "site-local date, 1970 to 2199", "site-local date"));
                p.push(format_param());
                p
            })
        },
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}/integrity",
        rule: Rule::SystemRead,
        handler: || get(systems::integrity),
        doc: doc("Freshness and integrity of the stored data: newest data, 5-minute slots missing in the last day while the sun was up, and whether the newest day with Solar.web's own total agrees with the records (within 1 % or 50 Wh)", || object(&["system", "consistent"], vec![
            ("system", string()),
            ("last_data_at", nullable(instant())),
            ("data_age_minutes", nullable(serde_json::json!({"type": "integer"}))),
            ("daylight_slots", nullable(count())),
            ("missing_daylight_slots", nullable(count())),
            ("checked_day", nullable(date())),
            ("records_wh", nullable(number())),
            ("solarweb_wh", nullable(number())),
            ("consistent", nullable(boolean())),
        ]))
        .params(|| vec![system_param()]),
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}/kpis",
        rule: Rule::SystemRead,
        handler: || get(systems::kpis),
        doc: doc("Specific yield, expected clear-sky energy, performance index, completeness, self-consumption and self-sufficiency", || object(&["system_id", "from", "to", "kpis"], vec![
            ("system_id", string()),
            ("from", date()),
            ("to", date()),
            ("kpis", object(&[], vec![
                ("energy", reference("Energy")),
                ("data_completeness", nullable(number())),
                ("low_quality_days", count()),
                ("performance_index", nullable(number())),
                ("specific_yield_kwh_per_kwp", nullable(number())),
                ("expected_clear_sky_wh", nullable(number())),
                ("expected_clear_sky_period_wh", nullable(number())),
                ("unknown", map(string())),
            ])),
        ]))
        .params(|| {
            let mut p = vec![system_param()];
            p.extend(range(date, "site-local date, 1970 to 2199", "site-local date; at most 366 days after from"));
            p
        }),
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}/members",
        rule: Rule::SystemRead,
        handler: || get(users::members),
        doc: doc("Members of a system", || object(&["members"], vec![("members", array(reference("Membership")))]))
            .params(|| vec![system_param()]),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/systems/{system}/members/{user}",
        rule: Rule::SystemManage,
        handler: || put(users::grant),
        doc: doc("Grant or change a membership (nobody grants above their own role; owners change owners; a system keeps an owner)", || object(&["membership"], vec![("membership", reference("Membership"))]))
            .params(|| vec![system_param(), user_param()])
            .body(|| body(&["role"], vec![("role", system_role())])),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/systems/{system}/members/{user}",
        rule: Rule::SystemManage,
        handler: || delete(users::revoke),
        doc: doc("Revoke a membership (same rules as granting)", any)
            .params(|| vec![system_param(), user_param()])
            .no_content(),
    },
    RouteSpec {
        method: "GET",
        path: "/api/api-keys",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || get(users::list_keys),
        doc: doc("Every API key, without secrets (administrators)", || object(&["api_keys"], vec![("api_keys", array(reference("ApiKey")))])),
    },
    RouteSpec {
        method: "POST",
        path: "/api/api-keys",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || post(users::create_key),
        doc: doc("Create an API key; the key is shown once (administrators). It never acts above its creator's current role.", || object(&["api_key", "key"], vec![
            ("api_key", reference("ApiKey")),
            ("key", string()),
        ]))
        .status(201)
        .body(|| body(&["name", "role"], vec![("name", text(1, 100)), ("role", org_role()), ("read_only", boolean())])),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/api-keys/{key}",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || delete(users::revoke_key),
        doc: doc("Revoke an API key (administrators)", any)
            .params(|| vec![path("key", "API key id")])
            .no_content(),
    },
    RouteSpec {
        method: "POST",
        path: "/api/chat",
        rule: Rule::Authenticated,
        handler: || post(chat::chat),
        doc: doc("Ask the O&M assistant (old payload {username, message, user_id}, plus conversation_id and system_id); `response` is the answer's plain text for old clients. With Accept: text/event-stream the reply comes as server-sent events: meta, delta (the text in pieces), done (this JSON)", || reference("ChatReply"))
            .streamed()
            .body(|| body(&["message"], vec![
                ("message", text(1, 4000)),
                ("username", nullable(text(0, 200))),
                ("user_id", nullable(string())),
                ("conversation_id", nullable(string())),
                ("system_id", nullable(string())),
            ])),
    },
    RouteSpec {
        method: "POST",
        path: "/api/chat/actions/{action}/confirm",
        rule: Rule::Authenticated,
        handler: || post(chat::confirm),
        doc: doc("Confirm an action the assistant proposed (its id from `proposed_actions`): it runs once, as the caller, under the rule of the route it stands for (checked again now)", || object(&["id", "action", "status"], vec![
            ("id", string()),
            ("action", one_of(&["acknowledge_incident", "snooze_system", "plan_maintenance"])),
            ("status", one_of(&["confirmed"])),
            ("incident", reference("Incident")),
            ("system_status", reference("SystemStatus")),
        ]))
            .params(|| vec![path("action", "proposed action id")]),
    },
    RouteSpec {
        method: "GET",
        path: "/api/chat/metrics",
        rule: Rule::OrgRole(OrgRole::Admin),
        handler: || get(chat::metrics),
        doc: doc("The assistant's counters in this process: turns by mode, tool calls, tokens, fallbacks to offline by reason, errors, latency buckets", || object(&["model_configured", "hybrid_retrieval", "counters"], vec![
            ("model_configured", boolean()),
            ("hybrid_retrieval", boolean()),
            ("dense_failures", count()),
            ("counters", serde_json::json!({"type": "object"})),
        ])),
    },
    RouteSpec {
        method: "GET",
        path: "/api/chat/conversations",
        rule: Rule::Authenticated,
        handler: || get(chat::conversations),
        doc: doc("The caller's assistant conversations, most recently active first", || object(&["conversations"], vec![
            ("conversations", array(reference("Conversation"))),
        ])),
    },
    RouteSpec {
        method: "GET",
        path: "/api/chat/conversations/{conversation}",
        rule: Rule::Authenticated,
        handler: || get(chat::conversation),
        doc: doc("One of the caller's conversations with its messages (another user's answers 404, like an unknown one)", || reference("Conversation"))
            .params(|| vec![path("conversation", "conversation id")]),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/chat/conversations/{conversation}",
        rule: Rule::Authenticated,
        handler: || delete(chat::delete_conversation),
        doc: doc("Delete one of the caller's conversations and its messages", any)
            .params(|| vec![path("conversation", "conversation id")])
            .no_content(),
    },
    RouteSpec {
        method: "GET",
        path: "/api/incidents",
        rule: Rule::Authenticated,
        handler: || get(incidents::list),
        doc: doc("Incidents the caller may see, newest first (without evidence); platform incidents are visible to everyone", || object(&["incidents", "next"], vec![
            ("incidents", array(reference("Incident"))),
            ("next", nullable(string())),
        ]))
        .params(|| {
            let mut p = vec![
                query("system", text(1, 128), "only this system's incidents"),
                query("kind", one_of(&["no_data", "device_error", "zero_production", "underperformance", "upstream_outage"]), "only this kind"),
                query("state", one_of(&["open", "resolved"]), "open or resolved"),
            ];
            p.extend(range(instant, "opened at or after this RFC 3339 instant", "opened before this RFC 3339 instant"));
            p.push(limit(500, 100));
            p.push(query("before", text(1, 256), "next of the previous page (an incident id)"));
            p
        }),
    },
    RouteSpec {
        method: "GET",
        path: "/api/incidents/{incident}",
        rule: Rule::Authenticated,
        handler: || get(incidents::detail),
        doc: doc("One incident with its evidence (404 unless the caller may see its system)", || reference("Incident"))
            .params(|| vec![incident_param()]),
    },
    RouteSpec {
        method: "POST",
        path: "/api/incidents/{incident}/ack",
        rule: Rule::Authenticated,
        handler: || post(incidents::acknowledge),
        doc: Doc {
            body_optional: true,
            ..doc("Acknowledge an incident, stopping reminders and escalation (owners, installers and technicians of the system, fleet managers; idempotent)", || reference("Incident"))
                .params(|| vec![incident_param()])
                .body(|| body(&[], vec![("note", nullable(text(0, 500)))]))
        },
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}/status",
        rule: Rule::SystemRead,
        handler: || get(status::status),
        doc: doc("The system's STATUS item with its open incidents", status_response)
            .params(|| vec![system_param()]),
    },
    RouteSpec {
        method: "POST",
        path: "/api/systems/{system}/snooze",
        rule: Rule::SystemManage,
        handler: || post(status::snooze),
        doc: doc("Hold notifications until {until} (in the future, at most 30 days ahead; null lifts the snooze)", status_response)
            .params(|| vec![system_param()])
            .body(|| body(&["until"], vec![("until", nullable(instant()))])),
    },
    RouteSpec {
        method: "POST",
        path: "/api/systems/{system}/maintenance",
        rule: Rule::SystemManage,
        handler: || post(status::add_maintenance),
        doc: doc("Plan a maintenance window {from, to, reason}: from before to, at most 31 days, ending in the future", status_response)
            .params(|| vec![system_param()])
            .body(|| body(&["from", "to", "reason"], vec![("from", instant()), ("to", instant()), ("reason", text(1, 200))])),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/systems/{system}/maintenance",
        rule: Rule::SystemManage,
        handler: || delete(status::clear_maintenance),
        doc: doc("Cancel current and future maintenance windows", status_response)
            .params(|| vec![system_param()]),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/systems/{system}/grace",
        rule: Rule::SystemManage,
        handler: || put(status::grace),
        doc: doc("Set the no-data grace period {minutes} (5-240)", status_response)
            .params(|| vec![system_param()])
            .body(|| body(&["minutes"], vec![("minutes", int(5, 240))])),
    },
    RouteSpec {
        method: "GET",
        path: "/api/systems/{system}/escalation",
        rule: Rule::SystemRead,
        handler: || get(status::escalation),
        doc: doc("The system's escalation policy", policy).params(|| vec![system_param()]),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/systems/{system}/escalation",
        rule: Rule::SystemManage,
        handler: || put(status::set_escalation),
        doc: doc("Replace the escalation policy", policy)
            .params(|| vec![system_param()])
            .body(|| body(&["escalate_after_mins", "remind_every_mins", "max_reminders"], vec![
                ("escalate_after_mins", int(5, 10_080)),
                ("remind_every_mins", int(15, 10_080)),
                ("max_reminders", int(0, 10)),
            ])),
    },
    RouteSpec {
        method: "GET",
        path: "/api/notifications",
        rule: Rule::Authenticated,
        handler: || get(notifications::feed),
        doc: doc("The caller's in-app notifications, newest first", || object(&["notifications", "unread"], vec![
            ("notifications", array(object(&["id", "incident", "title", "created_at"], vec![
                ("id", string()),
                ("incident", string()),
                ("title", string()),
                ("created_at", instant()),
                ("read_at", nullable(instant())),
            ]))),
            ("unread", count()),
        ]))
        .params(|| vec![query("unread", boolean(), "only unread ones"), limit(500, 50)]),
    },
    RouteSpec {
        method: "POST",
        path: "/api/notifications/{notification}/read",
        rule: Rule::Authenticated,
        handler: || post(notifications::mark_read),
        doc: doc("Mark one of the caller's notifications read", any)
            .params(|| vec![path("notification", "notification id")])
            .no_content(),
    },
    RouteSpec {
        method: "GET",
        path: "/api/notifications/stats",
        rule: Rule::OrgRole(OrgRole::FleetManager),
        handler: || get(notifications::stats),
        doc: doc("Notification delivery per UTC day by state, delivery rates and the pending backlog", || {
            let counts = map(count());
            object(&["days", "total", "pending"], vec![
                ("from", nullable(date())),
                ("to", date()),
                ("days", array(object(&["day", "counts"], vec![("day", date()), ("counts", counts.clone()), ("rate", nullable(number()))]))),
                ("total", counts),
                ("rate", nullable(number())),
                ("pending", count()),
            ])
        })
        .params(|| vec![query("days", int(1, 31), "1-31, default 7")]),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users/me/notification-settings",
        rule: Rule::Authenticated,
        handler: || get(notifications::settings),
        doc: doc("The caller's notification settings (whether a webhook secret is set, never the secret)", settings),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/users/me/notification-settings",
        rule: Rule::Authenticated,
        handler: || put(notifications::update_settings),
        doc: doc("Change notification settings; a new webhook signing secret is shown once", settings)
            .body(|| {
                let hh_mm = serde_json::json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"});
                body(&[], vec![
                    ("email", boolean()),
                    ("sms", boolean()),
                    ("webhook", boolean()),
                    ("min_severity", one_of(&["info", "warning", "critical"])),
                    ("quiet_hours", nullable(body(&["start", "end"], vec![("start", hh_mm.clone()), ("end", hh_mm)]))),
                    ("digest", boolean()),
                    ("digest_hour", int(0, 23)),
                    ("rotate_webhook_secret", boolean()),
                ])
            }),
    },
];

/// The named schemas the rows refer to.
pub(crate) fn components() -> Value {
    let energy_value = nullable(number());
    serde_json::json!({
        "Error": object(&["error"], vec![("error", object(&["code", "message"], vec![("code", string()), ("message", string())]))]),
        "TokenPair": object(&["access_token", "refresh_token", "token_type", "expires_in"], vec![
            ("access_token", string()),
            ("refresh_token", string()),
            ("token_type", string()),
            ("expires_in", count()),
        ]),
        "User": object(&["id", "email", "name", "role", "disabled", "time_zone", "language", "contacts", "source"], vec![
            ("id", string()),
            ("email", string()),
            ("name", nullable(string())),
            ("role", org_role()),
            ("disabled", boolean()),
            ("time_zone", string()),
            ("language", string()),
            ("contacts", object(&[], vec![
                ("email", nullable(string())),
                ("phone", nullable(string())),
                ("webhook_url", nullable(string())),
            ])),
            ("source", one_of(&["local", "supabase"])),
        ]),
        "Activity": object(&["at", "action"], vec![
            ("at", instant()),
            ("action", string()),
            ("actor", nullable(string())),
            ("ip", nullable(string())),
            ("detail", any()),
        ]),
        "Membership": object(&["system", "user", "role"], vec![("system", string()), ("user", string()), ("role", system_role())]),
        "ApiKey": object(&["id", "name", "role", "read_only", "created_by", "created_at", "revoked"], vec![
            ("id", string()),
            ("name", string()),
            ("role", org_role()),
            ("read_only", boolean()),
            ("created_by", string()),
            ("created_at", string()),
            ("revoked", boolean()),
        ]),
        "ChatReply": object(&["response", "conversation_id", "citations", "data_consulted", "proposed_actions", "mode"], vec![
            ("response", string()),
            ("conversation_id", string()),
            ("citations", array(serde_json::json!({"type": "object"}))),
            ("data_consulted", array(serde_json::json!({"type": "object"}))),
            ("proposed_actions", array(serde_json::json!({"type": "object"}))),
            ("mode", one_of(&["offline", "model"])),
            ("usage", nullable(object(&["prompt_tokens", "completion_tokens", "total_tokens", "estimated"], vec![
                ("prompt_tokens", count()),
                ("completion_tokens", count()),
                ("total_tokens", count()),
                ("estimated", boolean()),
            ]))),
            ("notice", nullable(string())),
        ]),
        "Conversation": object(&["id", "title", "created_at", "updated_at"], vec![
            ("id", string()),
            ("title", string()),
            ("created_at", string()),
            ("updated_at", string()),
            ("messages", array(serde_json::json!({"type": "object"}))),
        ]),
        "SystemSummary": object(&["id", "name", "time_zone", "active"], vec![
            ("id", string()),
            ("name", string()),
            ("peak_power_w", nullable(number())),
            ("time_zone", string()),
            ("active", boolean()),
            ("last_data_at", nullable(instant())),
            ("location", nullable(object(&["latitude", "longitude"], vec![("latitude", number()), ("longitude", number()), ("source", one_of(&["given", "time_zone", "utc_offset", "production"]))]))),
        ]),
        "Energy": object(&["records"], vec![
            ("produced_wh", energy_value.clone()),
            ("fed_in_wh", energy_value.clone()),
            ("purchased_wh", energy_value.clone()),
            ("consumed_wh", energy_value.clone()),
            ("battery_charged_wh", energy_value.clone()),
            ("battery_discharged_wh", energy_value.clone()),
            ("records", count()),
            ("stale_wh", energy_value.clone()),
            ("hidden_wh", energy_value),
            ("quality", object(&["completeness", "gaps", "stale_slots", "score"], vec![
                ("completeness", number()),
                ("gaps", count()),
                ("stale_slots", count()),
                ("score", number()),
            ])),
        ]),
        "Incident": object(&["id", "kind", "severity", "title", "summary", "since", "opened_at"], vec![
            ("id", string()),
            ("system", nullable(string())),
            ("kind", one_of(&["no_data", "device_error", "zero_production", "underperformance", "upstream_outage"])),
            ("severity", one_of(&["info", "warning", "critical"])),
            ("title", string()),
            ("summary", string()),
            ("action", string()),
            ("since", instant()),
            ("opened_at", instant()),
            ("resolved_at", nullable(instant())),
            ("lost_energy_wh", nullable(number())),
            ("hidden_energy_wh", nullable(number())),
            ("acked_by", nullable(string())),
        ]),
        "SystemStatus": object(&["system", "state"], vec![
            ("system", string()),
            ("state", string()),
            ("devices", map(object(&["state"], vec![("state", one_of(&["online", "offline", "error", "unknown"]))]))),
            ("open_incidents", array(reference("Incident"))),
            ("notifications_held", boolean()),
            ("snoozed_until", nullable(instant())),
            ("grace_minutes", nullable(count())),
            ("never_reported", boolean()),
            ("profile", object(&["days", "usable"], vec![
                ("learned_on", nullable(string())),
                ("days", count()),
                ("usable", boolean()),
            ])),
        ]),
        "EscalationPolicy": object(&["escalate_after_mins", "remind_every_mins", "max_reminders"], vec![
            ("escalate_after_mins", count()),
            ("remind_every_mins", count()),
            ("max_reminders", count()),
        ]),
        "NotificationSettings": object(&["email", "sms", "webhook", "webhook_secret_set", "min_severity", "digest", "digest_hour"], vec![
            ("email", boolean()),
            ("sms", boolean()),
            ("webhook", boolean()),
            ("webhook_secret_set", boolean()),
            ("webhook_secret", string()),
            ("min_severity", string()),
            ("quiet_hours", nullable(object(&["start", "end"], vec![("start", string()), ("end", string())]))),
            ("digest", boolean()),
            ("digest_hour", count()),
        ]),
    })
}
