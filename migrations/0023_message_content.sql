-- What a message says, fixed once it is stored (issue 15), and the one sanctioned way
-- it may change afterwards: erasure on request (issue 19).
--
-- variant: the campaign template variant the body was rendered from (NULL when the
--          body came from elsewhere: a person, an auto reply, a confirmation).
-- (segments may still change: the provider reports its own count when it sends.)
-- erased_at: when the person's words were erased; the body becomes '' in that same
--          update, and nothing else about the message changes (the hard-rule binding,
--          status and counts stay).
ALTER TABLE messages ADD COLUMN variant text CHECK (variant <> '');
ALTER TABLE messages ADD COLUMN erased_at timestamptz;

CREATE FUNCTION keep_message_content() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.template IS DISTINCT FROM OLD.template
       OR NEW.variant IS DISTINCT FROM OLD.variant
       OR NEW.erased_at IS DISTINCT FROM OLD.erased_at AND OLD.erased_at IS NOT NULL
       OR (NEW.body IS DISTINCT FROM OLD.body
           AND NOT (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL AND NEW.body = '')) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'messages_content_immutable',
            MESSAGE = format('message %s: its text cannot change once stored, except to erase it', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_content_immutable BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION keep_message_content();
