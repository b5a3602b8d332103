package io.eventflow;

import java.time.Duration;
import java.util.Map;

import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The writer is never failed by capture: values jsonb cannot hold (a json column with \u0000 or
 * duplicate keys, a string past jsonb's 256 MB limit) are written, captured and published (or set
 * aside, when larger than the broker takes) like any other.
 */
class WriterSafetyIT extends EventFlowTestSupport {

    @BeforeAll
    void createTable() throws Exception {
        sql("CREATE TABLE public.docs (id bigint PRIMARY KEY, doc json, body text)", "SELECT eventflow.enable_capture('public.docs')");
    }

    private Received published(long id) {
        await().atMost(Duration.ofSeconds(30)).until(() -> consumer.received().stream()
                .anyMatch(r -> r.routingKey().equals("public.docs.c") && r.json().at("/after/id").asLong() == id));
        return consumer.received().stream().filter(r -> r.routingKey().equals("public.docs.c") && r.json().at("/after/id").asLong() == id)
                .findFirst().orElseThrow();
    }

    @Test
    void aJsonColumnWithANulCharacterIsWrittenAndPublished() throws Exception {
        sql("INSERT INTO public.docs (id, doc) VALUES (1, '{\"note\": \"before\\u0000after\"}')");
        Received event = published(1);
        assertEquals("before\u0000after", event.json().at("/after/doc/note").asText());
    }

    @Test
    void aJsonColumnWithDuplicateKeysIsPublishedAsTheWriterWroteIt() throws Exception {
        sql("INSERT INTO public.docs (id, doc) VALUES (2, '{\"a\": 1, \"a\": 2}')");
        Received event = published(2);
        assertTrue(event.body().contains("\"doc\":{\"a\": 1, \"a\": 2}"), event.body());
    }

    @Test
    void aRowPastJsonbsSizeLimitIsWrittenAndSetAsideWholeAndTheChangesAfterItGoOn() throws Exception {
        // a string jsonb refuses ("jsonb strings cannot exceed 268435455 bytes"), larger than RabbitMQ takes
        long length = 270_000_000L;
        sql("INSERT INTO public.docs (id, body) VALUES (3, repeat('x', " + length + "))",
                "INSERT INTO public.docs (id, body) VALUES (4, 'after the large one')");
        assertEquals("after the large one", published(4).json().at("/after/body").asText());
        try (var c = db(); var st = c.createStatement();
                var rs = st.executeQuery("SELECT length(after->>'body'), event_bytes FROM eventflow.failed_change WHERE after->>'id' = '3'")) {
            assertTrue(rs.next(), "the large change is set aside in eventflow.failed_change");
            assertEquals(length, rs.getLong(1), "whole");
            assertTrue(rs.getLong(2) > length, "with the size its event would have had: " + rs.getLong(2));
        }
        assertTrue(consumer.received().stream().noneMatch(r -> r.json().at("/after/id").asLong() == 3), "and not published");
    }

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.stream.enabled", "false");
    }
}
