-- A new object's INSERT no longer notifies (migration 8 added the trigger).
--
-- The object cache (storage/postgres/cache.go) holds only objects a read
-- found, and forgets them on the notification of any later change. A row
-- inserted into objects has a UID no committed row had (the primary key),
-- unless that row was deleted first, and the DELETE notified. So no cached
-- object can be stale because of an insert into objects, and the
-- notification only cost every Create a trigger call and a queued NOTIFY
-- in the one transaction that serializes the audit trail's group commit
-- (about 45 µs of PostgreSQL's time per row on the benchmark machine, a
-- third of the INSERT's).
--
-- Inserts into object_events still notify: an event changes an object that
-- may be cached (a state change, an attribute change, a peer's event).
DROP TRIGGER objects_notify ON objects;
CREATE TRIGGER objects_notify AFTER UPDATE OR DELETE ON objects
    FOR EACH ROW EXECUTE FUNCTION strongroom_notify_object();
ALTER TABLE objects ENABLE ALWAYS TRIGGER objects_notify;
