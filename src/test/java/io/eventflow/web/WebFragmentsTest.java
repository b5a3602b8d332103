package io.eventflow.web;

import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.eventflow.EventJson;
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
    void theStatusStripChartsEventsPerSecondAndLagOverItsLastRenderings() throws Exception {
        io.eventflow.CaptureStats stats = new io.eventflow.CaptureStats(new io.eventflow.WakeupListener(1000));
        StatusStrip strip = new StatusStrip(stats, 4, 1000);
        String first = strip.render();
        assertTrue(first.contains("<polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"\"/>"), "no figure yet: " + first);
        long[] totals = {100, 300, 300, 700, 1700, 1800};
        String html = first;
        for (int i = 0; i < totals.length; i++) {
            stats.update(Map.of("published_total", totals[i], "backlog", 0L, "lag_seconds", i == 3 ? 2.5 : 0.5, "last_published_id", totals[i], "failed_total", 0L));
            Thread.sleep(20);
            html = strip.render();
        }
        // as many points as the chart keeps, newest at the right edge; the lag's peak in the caption
        Matcher rate = Pattern.compile("data-chart=\"rate-chart\".*?points=\"([^\"]*)\"").matcher(html);
        assertTrue(rate.find(), html);
        String[] points = rate.group(1).split(" ");
        assertEquals(4, points.length, rate.group(1));
        assertEquals(String.valueOf((double) StatusStrip.CHART_WIDTH), points[3].split(",")[0]);
        assertTrue(html.contains("lag, last 4 s, peak 2.5 s"), html);
        assertTrue(html.contains("<title>events/s, last 4 s, peak "), html);
        // the largest rate is drawn at the top, a zero rate at the bottom
        double[] ys = java.util.Arrays.stream(points).mapToDouble(p -> Double.parseDouble(p.split(",")[1])).toArray();
        assertEquals(1.0, java.util.Arrays.stream(ys).min().orElseThrow(), 0.01, rate.group(1));
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
        String card = new ChangeCard(65536).render(event.getBytes(StandardCharsets.UTF_8), Map.of(
                "CamelSpringRabbitmqRoutingKey", "eventflow_demo.users.u",
                "CamelSpringRabbitmqMessageId", "42",
                "CamelSpringRabbitmqTimestamp", new Date(0),
                "CamelSpringRabbitmqDeliveryMode", "PERSISTENT"));
        assertTrue(card.contains("data-op=\"u\""), card);
        assertTrue(card.contains("data-row-id=\"7\""));
        assertTrue(card.contains("<li data-field=\"email\"><span class=\"field\">email</span>: <del>a@x.org</del> → <ins>b@x.org</ins></li>"), card);
        assertFalse(card.contains("data-field=\"name\""));
        assertFalse(card.contains("<b>"), "escaped, also in the pretty-printed body");
        assertTrue(card.contains("<dd data-property=\"routing key\">eventflow_demo.users.u</dd>"));
        assertTrue(card.contains("<dd data-property=\"timestamp\">1970-01-01T00:00:00Z</dd>"));
        assertTrue(card.contains("<dd data-property=\"delivery_mode\">2 (persistent)</dd>"));
        assertTrue(card.contains("\n  &quot;op&quot; : &quot;u&quot;"), "pretty-printed");
    }

    private static String card(String event) {
        return new ChangeCard(65536).render(event.getBytes(StandardCharsets.UTF_8), Map.of("CamelSpringRabbitmqMessageId", "42"));
    }

    @Test
    void decimalsShowExactlyAsPostgresqlWroteThemInTheDiffAndTheBody() {
        // amount: numeric(40,20), both values the same double; price: 12.30 keeps its zero; tiny: no exponent
        String event = "{\"before\":{\"id\":3,\"amount\":12345678901234567890.12345678901234567890,\"price\":12.30,\"tiny\":0.00000001},"
                + "\"after\":{\"id\":3,\"amount\":12345678901234567890.12345678901234567891,\"price\":12.30,\"tiny\":0.00000002},"
                + "\"source\":{\"schema\":\"public\",\"table\":\"measures\",\"ts_ms\":1795831397554},\"op\":\"u\"}";
        String card = card(event);
        assertTrue(card.contains("<li data-field=\"amount\"><span class=\"field\">amount</span>: "
                + "<del>12345678901234567890.12345678901234567890</del> → <ins>12345678901234567890.12345678901234567891</ins></li>"), card);
        assertTrue(card.contains("<del>0.00000001</del> → <ins>0.00000002</ins>"), card);
        assertFalse(card.contains("data-field=\"price\""), "unchanged: " + card);
        assertFalse(card.contains("no field changed"), card);
        assertTrue(card.contains("&quot;amount&quot; : 12345678901234567890.12345678901234567891"), "the body, exact: " + card);
        assertTrue(card.contains("&quot;price&quot; : 12.30,"), card);
        assertTrue(card.contains("&quot;tiny&quot; : 0.00000002"), card);
    }

    @Test
    void aVeryLargeEventMakesABoundedCardThatSaysWhatItLeftOut() throws Exception {
        // over Jackson's default limit of 20 M characters for one string
        String event = "{\"before\":null,\"after\":{\"id\":9,\"body\":\"" + "<x>".repeat(7_000_000) + "\"},"
                + "\"source\":{\"schema\":\"public\",\"table\":\"documents\",\"ts_ms\":1795831397554},\"op\":\"c\"}";
        String card = card(event);
        assertTrue(card.length() < 400_000, "bounded: " + card.length() + " characters");
        assertTrue(card.contains("data-op=\"c\" data-table=\"public.documents\" data-change-id=\"42\" data-row-id=\"9\""),
                card.substring(0, 400));
        assertTrue(card.contains("<span class=\"row-id\">id 9</span>"), card.substring(0, 600));
        assertFalse(card.contains("<x>"), "escaped");
        Matcher leftOut = Pattern.compile("<p class=\"left-out\">… ([0-9,]+) more bytes of this message left out: "
                + "a card shows its first ([0-9,]+) bytes \\(eventflow.stream.card-body-bytes\\)</p>").matcher(card);
        assertTrue(leftOut.find(), card.substring(card.length() - 600));
        long left = Long.parseLong(leftOut.group(1).replace(",", ""));
        long shown = Long.parseLong(leftOut.group(2).replace(",", ""));
        ObjectMapper json = EventJson.mapper();
        long whole = json.writerWithDefaultPrettyPrinter().writeValueAsBytes(json.readTree(event)).length;
        assertTrue(shown <= 65536 && shown > 60_000, "shown " + shown);
        assertEquals(whole, shown + left, "what is shown and what is left out make the message");
        assertTrue(card.contains("&quot;id&quot; : 9,"), "the body starts as the message does");
    }

    @Test
    void longValuesInAnUpdateAreCutWithAnEllipsis() {
        String event = "{\"before\":{\"id\":5,\"name\":\"Old\",\"body\":\"" + "a".repeat(1_000_000) + "\"},"
                + "\"after\":{\"id\":5,\"name\":\"New\",\"body\":\"" + "b".repeat(1_000_000) + "\"},"
                + "\"source\":{\"schema\":\"public\",\"table\":\"documents\"},\"op\":\"u\"}";
        String card = card(event);
        assertTrue(card.length() < 300_000, "bounded: " + card.length() + " characters");
        assertTrue(card.contains("<del>Old</del> → <ins>New</ins>"), "short values whole");
        Matcher body = Pattern.compile("<li data-field=\"body\"><span class=\"field\">body</span>: <del>(a+)…<span class=\"left-out\"> "
                + "\\(([0-9,]+) more bytes\\)</span></del> → <ins>(b+)…<span class=\"left-out\"> \\(([0-9,]+) more bytes\\)</span></ins></li>")
                .matcher(card);
        assertTrue(body.find(), card.substring(0, 2000));
        assertEquals(1_000_000, body.group(1).length() + Long.parseLong(body.group(2).replace(",", "")));
        assertEquals(1_000_000, body.group(3).length() + Long.parseLong(body.group(4).replace(",", "")));
        assertTrue(body.group(1).length() + body.group(3).length() <= 65536);
        assertTrue(card.contains("data-row-id=\"5\""));
    }

    @Test
    void aRowWithoutAnIdColumnIsNamedByItsFirstColumn() {
        String card = card("{\"before\":null,\"after\":{\"sku\":\"<A&1>\",\"title\":\"Lamp\"},"
                + "\"source\":{\"schema\":\"public\",\"table\":\"products\"},\"op\":\"c\"}");
        assertTrue(card.contains("data-row-id=\"sku=&lt;A&amp;1&gt;\""), card);
        assertTrue(card.contains("<span class=\"row-id\">sku=&lt;A&amp;1&gt;</span>"), card);
        String deleted = card("{\"before\":{\"code\":17,\"title\":\"Lamp\"},\"after\":null,"
                + "\"source\":{\"schema\":\"public\",\"table\":\"products\"},\"op\":\"d\"}");
        assertTrue(deleted.contains("<span class=\"row-id\">code=17</span>"), deleted);
    }

    @Test
    void aMessageThatIsNotJsonStillMakesACard() {
        String card = card("<script>not json</script>");
        assertTrue(card.contains("data-op=\"?\""), card);
        assertTrue(card.contains("&lt;script&gt;not json&lt;/script&gt;"), card);
        assertFalse(card.contains("<script>"), card);
    }

    @Test
    void framesNamedEventsWithTheirIdAndOneDataLinePerLine() {
        assertEquals("event: change\nid: 42\ndata: <pre>{\ndata: }</pre>\n\n", SseHub.frame("change", "42", "<pre>{\n}</pre>"));
        assertEquals("event: stats\ndata: x\n\n", SseHub.frame("stats", null, "x"));
        assertEquals("event: a b\nid: 1 2\ndata: \n\n", SseHub.frame("a\nb", "1\r2", ""));
    }
}
