package io.eventflow;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which tables and operations are published is configured, per table and per operation. */
class FilterIT extends EventFlowTestSupport {

    @Override
    protected Map<String, String> properties() {
        return Map.of(
                "eventflow.filter.include", "(eventflow_demo\\.users|public\\.orders)\\..*",
                "eventflow.filter.exclude", "public\\.orders\\.d");
    }

    @Test
    void onlyIncludedTablesAndNotExcludedOperationsArePublished() throws Exception {
        sql("CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric)",
                "CREATE TABLE public.notes (id bigint PRIMARY KEY, text text)",
                "SELECT eventflow.enable_capture('public.orders')",
                "SELECT eventflow.enable_capture('public.notes')");

        long user = insertUser("Filtered", "filtered@example.com");
        sql("INSERT INTO public.orders VALUES (1, 10)",
                "INSERT INTO public.notes VALUES (1, 'not published')",
                "UPDATE public.orders SET total = 12 WHERE id = 1",
                "DELETE FROM public.orders WHERE id = 1",
                "DELETE FROM public.notes WHERE id = 1",
                // the last change: once it is in, everything before it would be too (commit order)
                "UPDATE eventflow_demo.users SET name = 'Filtered again' WHERE id = " + user);

        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream()
                .anyMatch(r -> r.routingKey().equals("eventflow_demo.users.u")));
        List<String> keys = consumer.received().stream().map(Received::routingKey).toList();
        assertEquals(List.of("eventflow_demo.users.c", "public.orders.c", "public.orders.u", "eventflow_demo.users.u"), keys);
    }
}
