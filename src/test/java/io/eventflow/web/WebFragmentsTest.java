package io.eventflow.web;

import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The web demo's rendering, validation and SSE framing, without services. */
class WebFragmentsTest {

    @Test
    void escapesEverythingThatCouldOpenMarkupOrAnAttribute() {
        assertEquals("&lt;img src=x onerror=alert(1)&gt;", Html.escape("<img src=x onerror=alert(1)>"));
        assertEquals("&quot; &#39; &amp; &#96;", Html.escape("\" ' & `"));
        assertEquals("", Html.escape(null));
    }

    @Test
    void validatesTheUserForm() {
        UserForm form = new UserForm();
        String type = "application/x-www-form-urlencoded; charset=UTF-8";
        assertEquals(Map.of("name", "Ada", "email", "ada@example.com"), form.create(Map.of("name", " Ada ", "email", "ada@example.com"), type));
        assertEquals(415, assertThrows(InvalidInputException.class, () -> form.create(Map.of(), "application/json")).getStatus());
        assertEquals(400, assertThrows(InvalidInputException.class, () -> form.create(Map.of("name", "A"), type)).getStatus());
        assertEquals(400, assertThrows(InvalidInputException.class,
                () -> form.create(Map.of("name", "A", "email", "a@b.co", "x", "1"), type)).getStatus());
        assertEquals(422, assertThrows(InvalidInputException.class, () -> form.create(Map.of("name", "", "email", "a@b.co"), type)).getStatus());
        assertEquals(422, assertThrows(InvalidInputException.class,
                () -> form.create(Map.of("name", "x".repeat(201), "email", "a@b.co"), type)).getStatus());
        form.create(Map.of("name", "x".repeat(200), "email", "a@b.co"), type);
        assertEquals(422, assertThrows(InvalidInputException.class, () -> form.create(Map.of("name", "A", "email", "a@b"), type)).getStatus());
        assertEquals(17L, form.update(Map.of("email", "a@b.co"), type, "PATCH", "/users/17").get("id"));
        assertEquals(null, form.update(Map.of("email", "a@b.co"), type, "PATCH", "/users/17").get("name"));
        assertEquals(400, assertThrows(InvalidInputException.class, () -> form.update(Map.of("email", "a@b.co"), type, "PUT", "/users/17")).getStatus());
        assertEquals(404, assertThrows(InvalidInputException.class, () -> form.target("/users/x")).getStatus());
        assertEquals(404, assertThrows(InvalidInputException.class, () -> form.target("/users/0")).getStatus());
        assertEquals(5L, form.target("/users/5/edit").get("id"));
    }

    @Test
    void anUpdateCardListsOnlyTheChangedFieldsAndTheDelivery() {
        String event = "{\"before\":{\"id\":7,\"name\":\"<b>Ada</b>\",\"email\":\"a@x.org\"},"
                + "\"after\":{\"id\":7,\"name\":\"<b>Ada</b>\",\"email\":\"b@x.org\"},"
                + "\"source\":{\"schema\":\"public\",\"table\":\"users\",\"ts_ms\":1795831397554,\"changeId\":42},\"op\":\"u\",\"ts_ms\":1}";
        String card = new ChangeCard().render(event.getBytes(StandardCharsets.UTF_8), Map.of(
                "CamelSpringRabbitmqRoutingKey", "public.users.u",
                "CamelSpringRabbitmqMessageId", "42",
                "CamelSpringRabbitmqTimestamp", new Date(0),
                "CamelSpringRabbitmqDeliveryMode", "PERSISTENT"));
        assertTrue(card.contains("data-op=\"u\""), card);
        assertTrue(card.contains("data-row-id=\"7\""));
        assertTrue(card.contains("<li data-field=\"email\"><span class=\"field\">email</span>: <del>a@x.org</del> → <ins>b@x.org</ins></li>"), card);
        assertFalse(card.contains("data-field=\"name\""));
        assertFalse(card.contains("<b>"), "escaped, also in the pretty-printed body");
        assertTrue(card.contains("<dd data-property=\"routing key\">public.users.u</dd>"));
        assertTrue(card.contains("<dd data-property=\"timestamp\">1970-01-01T00:00:00Z</dd>"));
        assertTrue(card.contains("<dd data-property=\"delivery_mode\">2 (persistent)</dd>"));
        assertTrue(card.contains("\n  &quot;op&quot; : &quot;u&quot;"), "pretty-printed");
    }

    @Test
    void framesNamedEventsWithTheirIdAndOneDataLinePerLine() {
        assertEquals("event: change\nid: 42\ndata: <pre>{\ndata: }</pre>\n\n", SseHub.frame("change", "42", "<pre>{\n}</pre>"));
        assertEquals("event: stats\ndata: x\n\n", SseHub.frame("stats", null, "x"));
        assertEquals("event: a b\nid: 1 2\ndata: \n\n", SseHub.frame("a\nb", "1\r2", ""));
    }
}
