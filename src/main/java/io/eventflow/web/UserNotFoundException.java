package io.eventflow.web;

/** An id no user has (any more): 404. */
public class UserNotFoundException extends InvalidInputException {

    public UserNotFoundException(String message) {
        super(404, message);
    }
}
