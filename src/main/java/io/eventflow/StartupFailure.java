package io.eventflow;

/**
 * EventFlow cannot start, for a reason an operator can act on (PostgreSQL unreachable, a connection
 * string that is not one, migrations that cannot be applied). Its message is the whole story: it is
 * printed as one line, without a stack trace.
 */
public class StartupFailure extends RuntimeException {

    public StartupFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
