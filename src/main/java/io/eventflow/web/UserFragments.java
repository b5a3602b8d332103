package io.eventflow.web;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

import static io.eventflow.web.Html.escape;

/**
 * The HTML fragments of the user panel that htmx swaps into the page: table rows, the edit row, and
 * the inline messages. Every value is escaped.
 */
public class UserFragments {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");
    private static final DateTimeFormatter FULL = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'");

    /** The rows of the user list (GET /users). */
    public String rows(List<Map<String, Object>> users) {
        if (users == null || users.isEmpty()) {
            return "<tr class=\"empty\"><td colspan=\"4\">No users yet: add one above.</td></tr>";
        }
        StringBuilder html = new StringBuilder();
        for (Map<String, Object> user : users) {
            html.append(row(user));
        }
        return html.toString();
    }

    /** One user as a row, with its edit and delete buttons and a slot for its messages. */
    public String row(Map<String, Object> user) {
        String id = escape(user.get("id"));
        return "<tr id=\"user-" + id + "\" class=\"user\" data-user-id=\"" + id + "\">"
                + "<td class=\"name\">" + escape(user.get("name")) + "</td>"
                + "<td class=\"email\">" + escape(user.get("email")) + "</td>"
                + updated(user.get("updated_at"))
                + "<td class=\"actions\">"
                + "<button type=\"button\" class=\"edit\" hx-get=\"users/" + id + "/edit\" hx-target=\"closest tr\" hx-swap=\"outerHTML\">Edit</button> "
                + "<button type=\"button\" class=\"delete\" hx-delete=\"users/" + id + "\" hx-target=\"closest tr\" hx-swap=\"delete\">Delete</button>"
                + "<div class=\"message\" id=\"user-" + id + "-message\" role=\"alert\"></div>"
                + "</td></tr>";
    }

    /** A freshly created user's row, and the form's message slot emptied (out of band). */
    public String created(Map<String, Object> user) {
        return row(user) + "<div id=\"form-message\" hx-swap-oob=\"true\" role=\"alert\"></div>";
    }

    /** One user as a row of inputs: Save sends PUT /users/{id}, Cancel shows the row again. */
    public String editRow(Map<String, Object> user) {
        String id = escape(user.get("id"));
        return "<tr id=\"user-" + id + "\" class=\"user editing\" data-user-id=\"" + id + "\">"
                + "<td><input name=\"name\" aria-label=\"name\" required maxlength=\"" + UserForm.MAX_NAME + "\" value=\"" + escape(user.get("name")) + "\"></td>"
                + "<td><input name=\"email\" aria-label=\"email\" type=\"email\" required value=\"" + escape(user.get("email")) + "\"></td>"
                + updated(user.get("updated_at"))
                + "<td class=\"actions\">"
                + "<button type=\"button\" class=\"save\" hx-put=\"users/" + id + "\" hx-include=\"closest tr\" hx-target=\"closest tr\" hx-swap=\"outerHTML\">Save</button> "
                + "<button type=\"button\" class=\"cancel\" hx-get=\"users/" + id + "\" hx-target=\"closest tr\" hx-swap=\"outerHTML\">Cancel</button>"
                + "<div class=\"message\" id=\"user-" + id + "-message\" role=\"alert\"></div>"
                + "</td></tr>";
    }

    /** An inline message: why a request was refused. */
    public String problem(String message) {
        return "<p class=\"problem\">" + escape(message) + "</p>";
    }

    /** Where a refused request's message goes: the slot of the row the path names, or the form's. */
    public String messageTarget(String path) {
        String id = UserForm.pathId(path);
        return id != null ? "#user-" + id + "-message" : "#form-message";
    }

    /** The time of the last change (UTC), the full date and time as its tooltip. */
    private static String updated(Object value) {
        OffsetDateTime time = null;
        if (value instanceof java.sql.Timestamp ts) {
            time = ts.toInstant().atOffset(ZoneOffset.UTC);
        } else if (value instanceof OffsetDateTime odt) {
            time = odt.withOffsetSameInstant(ZoneOffset.UTC);
        }
        if (time == null) {
            return "<td class=\"updated\">" + escape(value) + "</td>";
        }
        return "<td class=\"updated\" title=\"" + escape(FULL.format(time)) + "\">" + escape(TIME.format(time)) + "</td>";
    }
}
