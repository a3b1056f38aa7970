-- The cap on live refresh-token families per user and client
-- (RefreshStore.LimitFamilies): after each new family, the live families of
-- its user and client beyond the newest N are revoked. This index holds only
-- unrevoked families, in the order the cap reads them, so the cap reads about
-- N entries however many revoked families wait for the purge. It also
-- serves revoking by subject (disable, password change) and by subject and
-- client (RevokeConsent), which only ever touch live families, so it
-- replaces refresh_families_subject_client: one index fewer to update on
-- every new family.
--
-- A plain CREATE INDEX blocks writes to refresh_families while it runs; on
-- a partial index of the live families that is seconds even for millions of
-- rows.

-- +goose Up

CREATE INDEX refresh_families_live ON refresh_families (subject, client_id, created_at, id) WHERE revoked_at IS NULL;
DROP INDEX refresh_families_subject_client;

-- +goose Down

CREATE INDEX refresh_families_subject_client ON refresh_families (subject, client_id);
DROP INDEX refresh_families_live;
