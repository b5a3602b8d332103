-- The demo table: an email is taken whatever its case (Ada@example.com and ada@example.com are one
-- address to everyone who sends mail). Where the table already holds such a pair, the index is not
-- created (and a warning says why) rather than failing EventFlow's start-up on demo data; where the
-- demo table was dropped, there is nothing to do.
DO $$
BEGIN
  IF to_regclass('public.users') IS NULL THEN
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM public.users GROUP BY lower(email) HAVING count(*) > 1) THEN
    RAISE WARNING 'public.users has emails that differ only in case: users_email_lower_key not created';
  ELSE
    CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON public.users (lower(email));
  END IF;
END
$$;
