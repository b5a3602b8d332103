package io.eventflow;

import java.net.InetAddress;
import java.util.Properties;

import org.apache.camel.CamelContext;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The stream queue's default name, as application.properties and the demo's settings give it, without services. */
class InstancePropertiesFunctionTest {

    private static CamelContext context(Properties overrides) {
        CamelContext context = new DefaultCamelContext();
        context.getPropertiesComponent().setLocation("file:application.properties,file:demo/demo.properties");
        context.getPropertiesComponent().setOverrideProperties(overrides);
        return context;
    }

    private static String queue(CamelContext context) {
        return context.resolvePropertyPlaceholders("{{eventflow.stream.queue}}");
    }

    @Test
    void twoInstancesOnTheSamePortGetQueuesOfTheirOwnNamedAfterTheirHost() throws Exception {
        Properties port = new Properties();
        port.setProperty("eventflow.http.port", "8080");
        try (CamelContext one = context(port); CamelContext other = context(port)) {
            String host = InetAddress.getLocalHost().getHostName();
            String name = queue(one);
            assertTrue(name.matches("eventflow\\.stream\\." + java.util.regex.Pattern.quote(host) + "\\.8080\\.[0-9a-f]{6}"), name);
            assertEquals(name, queue(one), "the same name for as long as the instance runs (a route reload finds its queue)");
            // as two EventFlows on two hosts whose HOSTNAME is not exported: no shared queue
            assertNotEquals(name, queue(other));
        }
    }

    @Test
    void theQueueNameCanStillBeSet() throws Exception {
        Properties set = new Properties();
        set.setProperty("eventflow.stream.queue", "eventflow.stream.blue");
        try (CamelContext context = context(set)) {
            assertEquals("eventflow.stream.blue", queue(context));
        }
    }

    @Test
    void hostNamesAreKeptReadableAndShort() {
        String host = InstancePropertiesFunction.hostName();
        assertTrue(host.matches("[A-Za-z0-9._-]{1,63}"), host);
    }
}
