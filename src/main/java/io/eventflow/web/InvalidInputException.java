package io.eventflow.web;

/**
 * A request the web routes refuse: the HTTP status to answer with and the message shown inline.
 * Nothing has been written when it is thrown.
 */
public class InvalidInputException extends RuntimeException {

    private final int status;

    public InvalidInputException(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public int getStatus() {
        return status;
    }
}
