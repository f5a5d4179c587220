//! One schema for both backends (see `migrations/sqlite` and `migrations/postgres`).

diesel::table! {
    districts (key) {
        key -> Integer,
        id -> Text,
        name -> Text,
        authority -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    regions (key) {
        key -> Text,
        id -> Text,
        ars -> Text,
        name -> Text,
        kind -> Text,
        district_key -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    networks (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        region_key -> Text,
        status -> Text,
        website -> Nullable<Text>,
        description -> Nullable<Text>,
        sources -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    handlungsfelder (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        description -> Nullable<Text>,
        sources -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    network_handlungsfelder (network_id, handlungsfeld_id) {
        network_id -> Text,
        handlungsfeld_id -> Text,
        position -> Integer,
    }
}

diesel::table! {
    contracts (id) {
        id -> Text,
        network_id -> Text,
        kind -> Text,
        signed_on -> Nullable<Text>,
        signatories -> Text,
        document_url -> Nullable<Text>,
        notes -> Nullable<Text>,
        sources -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contract_handlungsfelder (contract_id, handlungsfeld_id) {
        contract_id -> Text,
        handlungsfeld_id -> Text,
        position -> Integer,
    }
}

diesel::table! {
    bodies (id) {
        id -> Text,
        network_id -> Text,
        body_type -> Text,
        name -> Text,
        description -> Nullable<Text>,
        address -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        website -> Nullable<Text>,
        sources -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        network_id -> Nullable<Text>,
        body_id -> Nullable<Text>,
        district_key -> Nullable<Integer>,
        name -> Text,
        function -> Nullable<Text>,
        organisation -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        visibility -> Text,
        is_person -> Integer,
        publication_consent -> Integer,
        sources -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    meetings (id) {
        id -> Text,
        network_id -> Text,
        body_id -> Nullable<Text>,
        name -> Text,
        span -> Text,
        start_key -> Text,
        end_key -> Text,
        status -> Text,
        location -> Nullable<Text>,
        description -> Nullable<Text>,
        url -> Nullable<Text>,
        documentation_url -> Nullable<Text>,
        sources -> Text,
        sequence -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    changes (resource_id) {
        resource_id -> Text,
        kind -> Text,
        seq -> BigInt,
        updated_at -> Timestamp,
        deleted -> Integer,
    }
}

diesel::table! {
    write_lock (id) {
        id -> Integer,
        writes -> BigInt,
    }
}

diesel::joinable!(regions -> districts (district_key));
diesel::joinable!(networks -> regions (region_key));
diesel::joinable!(contracts -> networks (network_id));
diesel::joinable!(bodies -> networks (network_id));
diesel::joinable!(meetings -> networks (network_id));
diesel::joinable!(network_handlungsfelder -> networks (network_id));
diesel::joinable!(network_handlungsfelder -> handlungsfelder (handlungsfeld_id));
diesel::joinable!(contract_handlungsfelder -> handlungsfelder (handlungsfeld_id));

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        district_key -> Nullable<Integer>,
        network_ids -> Text,
        prefix -> Text,
        secret_hash -> Text,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        id -> Text,
        at -> Timestamp,
        key_id -> Nullable<Text>,
        key_name -> Nullable<Text>,
        request_id -> Nullable<Text>,
        kind -> Text,
        resource_id -> Text,
        action -> Text,
        changed_fields -> Text,
    }
}

diesel::table! {
    facts (id) {
        id -> Integer,
        statements -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    districts,
    regions,
    networks,
    handlungsfelder,
    network_handlungsfelder,
    contracts,
    contract_handlungsfelder,
    bodies,
    contacts,
    meetings,
    changes,
    write_lock,
    api_keys,
    audit_log,
    facts,
);

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        active -> Integer,
        types -> Text,
        network_ids -> Text,
        district_key -> Nullable<Integer>,
        owner_key_id -> Nullable<Text>,
        owner_role -> Text,
        deactivated_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_outbox (seq) {
        seq -> BigInt,
        kind -> Text,
        resource_id -> Text,
        updated_at -> Timestamp,
        deleted -> Integer,
    }
}

diesel::table! {
    webhook_scopes (resource_id) {
        resource_id -> Text,
        network_id -> Nullable<Text>,
        district_key -> Nullable<Integer>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        seq -> Nullable<BigInt>,
        resource_id -> Nullable<Text>,
        event_type -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_latency_ms -> Nullable<BigInt>,
        last_attempt_at -> Nullable<Timestamp>,
        next_attempt_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_subscriptions, webhook_deliveries);
