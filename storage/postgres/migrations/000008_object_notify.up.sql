-- Change notifications for the object cache (storage/postgres/cache.go).
--
-- A server keeps recently read objects in memory. It forgets an object when
-- it writes it itself, but rows also change under it: written by another
-- process on the same database, or applied by logical replication from a
-- peer. These triggers announce every such change, after the row is written,
-- with NOTIFY strongroom_objects and the object's UID as payload (PostgreSQL
-- delivers it to listeners when the transaction commits, and folds
-- duplicates within one transaction). A TRUNCATE announces '*': forget all.
--
-- ENABLE ALWAYS: a subscription's apply worker runs with
-- session_replication_role = replica, under which ordinary triggers do not
-- fire; a peer's rows must invalidate the cache like local ones.
CREATE FUNCTION strongroom_notify_object() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('strongroom_objects', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('strongroom_objects', OLD.uid::text);
    ELSE
        PERFORM pg_notify('strongroom_objects', NEW.uid::text);
        IF TG_OP = 'UPDATE' AND OLD.uid IS DISTINCT FROM NEW.uid THEN
            PERFORM pg_notify('strongroom_objects', OLD.uid::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER objects_notify AFTER INSERT OR UPDATE OR DELETE ON objects
    FOR EACH ROW EXECUTE FUNCTION strongroom_notify_object();
CREATE TRIGGER objects_notify_truncate AFTER TRUNCATE ON objects
    FOR EACH STATEMENT EXECUTE FUNCTION strongroom_notify_object();
CREATE TRIGGER object_events_notify AFTER INSERT OR UPDATE OR DELETE ON object_events
    FOR EACH ROW EXECUTE FUNCTION strongroom_notify_object();
CREATE TRIGGER object_events_notify_truncate AFTER TRUNCATE ON object_events
    FOR EACH STATEMENT EXECUTE FUNCTION strongroom_notify_object();

ALTER TABLE objects ENABLE ALWAYS TRIGGER objects_notify;
ALTER TABLE objects ENABLE ALWAYS TRIGGER objects_notify_truncate;
ALTER TABLE object_events ENABLE ALWAYS TRIGGER object_events_notify;
ALTER TABLE object_events ENABLE ALWAYS TRIGGER object_events_notify_truncate;
