//! The single-table key schema (`PK`/`SK`), as documented in `docs/data-model.md`.
//!
//! Keys are plain strings joined with `#`, the convention of the table `Moose-DDB` that the
//! Python system wrote (for example `PK=System#<id>`, `SK=STATUS`). Ids can never contain `#`
//! (see [`crate::ids`]), so every key parses back unambiguously.

use crate::ids::{DeviceId, SystemId, UserId};

/// Sort key of a system's metadata item.
pub const SK_META: &str = "META";
/// Sort key of a system's status item (the old system's `SK=STATUS`).
pub const SK_STATUS: &str = "STATUS";
/// Sort key of a user's profile item.
pub const SK_PROFILE: &str = "PROFILE";
/// GSI1 partition under which every system's metadata item is listed.
pub const GSI1_ALL_SYSTEMS: &str = "Systems";

/// `System#<id>`: the partition holding everything about one PV system.
pub fn system_pk(id: &SystemId) -> String {
    format!("System#{id}")
}

/// `Device#<id>`: sort key of a device's metadata within its system's partition.
pub fn device_sk(id: &DeviceId) -> String {
    format!("Device#{id}")
}

/// Prefix of every device item in a system partition.
pub const DEVICE_SK_PREFIX: &str = "Device#";

/// `Hist#<yyyy-mm-dd>`: one item per system and **site-local** day holding that day's 5-minute
/// records (up to 300 slots on a 25-hour day).
///
/// Chunking per day keeps an item far below DynamoDB's 400 KB limit (288 records of a dozen
/// channels is about 40 KB) while a one-day read stays a single `GetItem`.
pub fn system_day_sk(date: jiff::civil::Date) -> String {
    format!("Hist#{date}")
}

/// `DevHist#<device>#<yyyy-mm-dd>`: one item per device and site-local day of 5-minute records.
pub fn device_day_sk(device: &DeviceId, date: jiff::civil::Date) -> String {
    format!("DevHist#{device}#{date}")
}

/// `Agg#D#<yyyy-mm-dd>`: a system's daily energy aggregate (site-local calendar day).
pub fn daily_aggregate_sk(date: jiff::civil::Date) -> String {
    format!("Agg#D#{date}")
}

/// `Agg#M#<yyyy-mm>`: a system's monthly energy aggregate (site-local calendar month).
pub fn monthly_aggregate_sk(year: i16, month: i8) -> String {
    format!("Agg#M#{year:04}-{month:02}")
}

/// `Hourly#<yyyy-mm>`: a system's hourly energy for one site-local month, kept so that a year
/// at one-hour resolution is twelve reads instead of 365.
pub fn hourly_rollup_sk(year: i16, month: i8) -> String {
    format!("Hourly#{year:04}-{month:02}")
}

/// `User#<id>`: the partition holding a user's profile, memberships and notifications.
pub fn user_pk(id: &UserId) -> String {
    format!("User#{id}")
}

/// `Email#<lower-cased address>`: the item claiming an e-mail address for one user. Written
/// with the profile in one conditional transaction, it makes addresses unique and finds a user
/// at sign-in with one `GetItem`.
pub fn email_pk(email: &str) -> String {
    format!("Email#{}", email.trim().to_lowercase())
}

/// Sort key of the e-mail claim item.
pub const SK_EMAIL_CLAIM: &str = "USER";

/// `Users`: the partition listing every user (one small item each), for the admin user list.
pub const USERS_PK: &str = "Users";

/// `User#<id>` as the sort key of a user's entry in [`USERS_PK`].
pub fn user_entry_sk(id: &UserId) -> String {
    format!("User#{id}")
}

/// `Session#<digest>`: a signed-in session (local mode) with its hashed refresh token. The
/// caller passes the SHA-256 of the session id, never the id itself, so that a copy of the
/// table holds no usable session ids (the id is in every access token of the session).
pub fn session_pk(session_digest: &str) -> String {
    format!("Session#{session_digest}")
}

/// Sort key of a session item.
pub const SK_SESSION: &str = "SESSION";

/// `ApiKey#<id>`: an API key's hash, role and state.
pub fn api_key_pk(key: &str) -> String {
    format!("ApiKey#{key}")
}

/// Sort key of an API key item.
pub const SK_API_KEY: &str = "KEY";

/// `ApiKeys`: the partition listing every API key.
pub const API_KEYS_PK: &str = "ApiKeys";

/// `Throttle#<kind>:<digest>`: the recent sign-in attempts of one account (`acct`) or client
/// address (`addr`), keyed by the SHA-256 of the e-mail or address so that the table does not
/// collect addresses of accounts that do not exist.
pub fn throttle_pk(kind: &str, digest: &str) -> String {
    format!("Throttle#{kind}:{digest}")
}

/// Sort key of a throttle window item.
pub const SK_THROTTLE: &str = "WINDOW";

/// `Identity#supabase:<sub>`: links a Supabase user id to an existing local account, written by
/// an administrator (`moose users link-supabase`) when the two share an e-mail address.
pub fn supabase_link_pk(sub: &str) -> String {
    format!("Identity#supabase:{sub}")
}

/// Sort key of an identity link.
pub const SK_IDENTITY_LINK: &str = "LINK";

/// `Config`: installation-wide settings kept in the store (e.g. the token signing key).
pub const CONFIG_PK: &str = "Config";

/// Sort key of the local token signing key.
pub const SK_SIGNING_KEY: &str = "AUTH_SIGNING_KEY";

/// `Activity#<at>#<id>`: an entry of a user's activity log (in the user's partition).
pub fn activity_sk(at: &str, id: &str) -> String {
    format!("Activity#{at}#{id}")
}

/// Prefix of activity entries.
pub const ACTIVITY_SK_PREFIX: &str = "Activity#";

/// Prefix of a user's memberships in their partition.
pub const MEMBERSHIP_SK_PREFIX: &str = "Access#System#";

/// Prefix of a system's members in its partition.
pub const MEMBER_SK_PREFIX: &str = "Member#User#";

/// `Access#System#<id>`: a user's membership of one system (in the user's partition).
pub fn membership_sk(system: &SystemId) -> String {
    format!("Access#System#{system}")
}

/// `Member#User#<id>`: the same membership seen from the system's partition.
pub fn member_sk(user: &UserId) -> String {
    format!("Member#User#{user}")
}

/// `Chat#<user>`: the partition holding one user's assistant conversations.
pub fn chat_pk(user: &UserId) -> String {
    format!("Chat#{user}")
}

/// Prefix of the conversation items in a [`chat_pk`] partition.
pub const CHAT_CONVERSATION_PREFIX: &str = "Conv#";

/// `Conv#<conversation>`: a conversation's title and times.
pub fn chat_conversation_sk(conversation: &str) -> String {
    format!("{CHAT_CONVERSATION_PREFIX}{conversation}")
}

/// `Prop#<proposal>`: an action the assistant proposed, waiting for the user's confirmation.
pub fn chat_proposal_sk(proposal: &str) -> String {
    format!("Prop#{proposal}")
}

/// `Msg#<conversation>#`: the prefix of a conversation's messages.
pub fn chat_messages_prefix(conversation: &str) -> String {
    format!("Msg#{conversation}#")
}

/// `Msg#<conversation>#<at>#<n>`: one message, in time order (`n` orders a turn's question
/// before its answer).
pub fn chat_message_sk(conversation: &str, at: &str, n: u8) -> String {
    format!("{}{at}#{n}", chat_messages_prefix(conversation))
}

/// Partition of the knowledge base's vectors kept in the store (when no Pinecone index is
/// configured).
pub const KNOWLEDGE_PK: &str = "Knowledge";

/// Sort-key prefix of a stored knowledge vector.
pub const KNOWLEDGE_VECTOR_PREFIX: &str = "Vec#";

/// `Vec#<chunk>`: the stored vector of a knowledge chunk.
pub fn knowledge_vector_sk(chunk: &str) -> String {
    format!("{KNOWLEDGE_VECTOR_PREFIX}{chunk}")
}

/// `Budget#<UTC day>`: a user's assistant token usage on a day, in the [`chat_pk`] partition.
pub fn chat_budget_sk(day: &str) -> String {
    format!("Budget#{day}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_documented_layout() {
        let system = SystemId::parse("s-1").unwrap();
        let device = DeviceId::parse("d-9").unwrap();
        let user = UserId::parse("u-7").unwrap();
        let day = jiff::civil::date(2026, 3, 7);
        assert_eq!(system_pk(&system), "System#s-1");
        assert_eq!(device_sk(&device), "Device#d-9");
        assert!(device_sk(&device).starts_with(DEVICE_SK_PREFIX));
        assert_eq!(system_day_sk(day), "Hist#2026-03-07");
        assert_eq!(device_day_sk(&device, day), "DevHist#d-9#2026-03-07");
        assert_eq!(daily_aggregate_sk(day), "Agg#D#2026-03-07");
        assert_eq!(monthly_aggregate_sk(2026, 3), "Agg#M#2026-03");
        assert_eq!(hourly_rollup_sk(2026, 3), "Hourly#2026-03");
        assert_eq!(user_pk(&user), "User#u-7");
        assert_eq!(email_pk("  Ann@Example.COM "), "Email#ann@example.com");
        assert_eq!(user_entry_sk(&user), "User#u-7");
        assert_eq!(session_pk("s1"), "Session#s1");
        assert_eq!(api_key_pk("k1"), "ApiKey#k1");
        assert_eq!(
            activity_sk("2026-01-01T00:00:00.000Z", "x"),
            "Activity#2026-01-01T00:00:00.000Z#x"
        );
        assert!(membership_sk(&system).starts_with(MEMBERSHIP_SK_PREFIX));
        assert!(member_sk(&user).starts_with(MEMBER_SK_PREFIX));
        assert_eq!(membership_sk(&system), "Access#System#s-1");
        assert_eq!(member_sk(&user), "Member#User#u-7");
        assert_eq!(chat_pk(&user), "Chat#u-7");
    }

    #[test]
    fn day_keys_sort_chronologically() {
        let a = system_day_sk(jiff::civil::date(2026, 9, 30));
        let b = system_day_sk(jiff::civil::date(2026, 10, 1));
        assert!(a < b);
    }
}
