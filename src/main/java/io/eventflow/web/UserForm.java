package io.eventflow.web;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks what the page (or anyone) sends to the user endpoints and turns it into the named
 * parameters of the SQL in routes/web.camel.yaml: {@code id}, {@code name}, {@code email}.
 * Anything wrong throws {@link InvalidInputException} with the status and the message to show.
 */
public class UserForm {

    public static final int MAX_NAME = 200;
    public static final int MAX_EMAIL = 254;
    private static final Set<String> FIELDS = Set.of("name", "email");
    private static final Pattern EMAIL = Pattern.compile("^[^@\\s<>()\\[\\],;:\"]+@[^@\\s<>()\\[\\],;:\"]+\\.[^@\\s<>()\\[\\],;:\".]+$");
    private static final String FORM = "application/x-www-form-urlencoded";
    private static final Pattern USER_PATH = Pattern.compile("(?:.*/)?users/([1-9][0-9]{0,17})(?:/edit)?/?");

    /** POST /users: exactly name and email. */
    public Map<String, Object> create(Object form, String contentType) {
        Map<String, String> fields = fields(form, contentType);
        requireExactly(fields, true);
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("name", name(fields.get("name")));
        user.put("email", email(fields.get("email")));
        return user;
    }

    /**
     * PUT /users/{id}: name and email; PATCH /users/{id}: name, email or both. Absent fields of a
     * PATCH are null (the SQL keeps the stored value).
     */
    public Map<String, Object> update(Object form, String contentType, String method, String path) {
        Map<String, String> fields = fields(form, contentType);
        requireExactly(fields, !"PATCH".equalsIgnoreCase(method));
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("id", id(path));
        user.put("name", fields.containsKey("name") ? name(fields.get("name")) : null);
        user.put("email", fields.containsKey("email") ? email(fields.get("email")) : null);
        return user;
    }

    /** GET and DELETE /users/{id}: a user id, or 404. */
    public Map<String, Object> target(String path) {
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("id", id(path));
        return user;
    }

    /**
     * The user id in a request path ({@code /users/17}, {@code /users/17/edit}): taken from the path
     * itself, so a form field or header called id cannot stand in for it.
     */
    static long id(String path) {
        Matcher m = path == null ? null : USER_PATH.matcher(path);
        if (m != null && m.matches()) {
            return Long.parseLong(m.group(1));
        }
        throw new UserNotFoundException("No such user.");
    }

    /** The id of the user a request path is about, or null. */
    public static String pathId(String path) {
        Matcher m = path == null ? null : USER_PATH.matcher(path);
        return m != null && m.matches() ? m.group(1) : null;
    }

    static String name(String value) {
        String name = value == null ? "" : value.strip();
        if (name.isEmpty()) {
            throw new InvalidInputException(422, "Name must not be empty.");
        }
        if (name.codePointCount(0, name.length()) > MAX_NAME) {
            throw new InvalidInputException(422, "Name must be at most " + MAX_NAME + " characters.");
        }
        return name;
    }

    static String email(String value) {
        String email = value == null ? "" : value.strip();
        if (email.isEmpty()) {
            throw new InvalidInputException(422, "Email must not be empty.");
        }
        if (email.length() > MAX_EMAIL || !EMAIL.matcher(email).matches()) {
            throw new InvalidInputException(422, "Email is not a valid address.");
        }
        return email;
    }

    private static void requireExactly(Map<String, String> fields, boolean all) {
        Set<String> extra = new TreeSet<>(fields.keySet());
        extra.removeAll(FIELDS);
        if (!extra.isEmpty()) {
            throw new InvalidInputException(400, "Unknown field: " + String.join(", ", extra) + ". Send name and email only.");
        }
        if (all) {
            Set<String> missing = new TreeSet<>(FIELDS);
            missing.removeAll(fields.keySet());
            if (!missing.isEmpty()) {
                throw new InvalidInputException(400, "Missing field: " + String.join(", ", missing) + ".");
            }
        } else if (fields.isEmpty()) {
            throw new InvalidInputException(400, "Missing field: send name, email or both.");
        }
    }

    /** The form fields, each given once, of an application/x-www-form-urlencoded request. */
    private static Map<String, String> fields(Object form, String contentType) {
        String type = contentType == null ? "" : contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        if (!FORM.equals(type)) {
            throw new InvalidInputException(415, "Send the form as " + FORM + ".");
        }
        Map<String, String> fields = new LinkedHashMap<>();
        if (form instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String key = String.valueOf(e.getKey());
                if (e.getValue() instanceof Iterable<?>) {
                    throw new InvalidInputException(400, "Field " + key + " is given more than once.");
                }
                fields.put(key, e.getValue() == null ? "" : String.valueOf(e.getValue()));
            }
        }
        return fields;
    }
}
