package io.eventflow;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Collections;
import java.util.Optional;

import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP server as a browser on another site, or another machine, meets it: it listens on
 * loopback only, refuses a state-changing request sent from another origin without writing
 * anything, and every answer carries a Content-Security-Policy without inline script, no framing
 * and no sniffing.
 */
class HttpHardeningIT extends EventFlowTestSupport {

    private HttpResponse<String> postUser(String name, String header, String value) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url("/users"))).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("name=" + name + "&email=" + name + "%40example.com"));
        if (header != null) {
            request.header(header, value);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private long users(String name) throws Exception {
        try (Connection c = db(); ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM eventflow_demo.users WHERE name = '" + name + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void aFormPostedFromAnotherSiteIsRefusedAndWritesNothing() throws Exception {
        assertEquals(403, postUser("mallory", "Origin", "https://attacker.example").statusCode());
        assertEquals(403, postUser("mallory", "Sec-Fetch-Site", "cross-site").statusCode());
        assertEquals(0, users("mallory"), "nothing written");
        // the page itself, and clients that are not browsers, still can
        assertEquals(201, postUser("alice", "Origin", "http://127.0.0.1:" + httpPort).statusCode());
        assertEquals(201, postUser("bob", "Sec-Fetch-Site", "same-origin").statusCode());
        assertEquals(201, postUser("carol", null, null).statusCode());
        assertEquals(3, users("alice") + users("bob") + users("carol"));
    }

    @Test
    void aFormFieldTooLargeIsRefusedInOneAnswerAndWritesNothing() throws Exception {
        HttpResponse<String> answer = postUser("big" + "x".repeat(9_000), null, null);
        assertEquals(413, answer.statusCode(), answer.body());
        assertTrue(answer.body().contains("Too large"), answer.body());
        assertEquals(0, users("big" + "x".repeat(9_000)), "nothing written");
    }

    @Test
    void everyAnswerCarriesTheSecurityHeaders() throws Exception {
        for (String path : new String[] {"/", "/users", "/app.js", "/observe/health", "/nothing-here"}) {
            HttpResponse<String> answer = get(path);
            String csp = answer.headers().firstValue("Content-Security-Policy").orElse("");
            assertTrue(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), path + ": " + csp);
            assertTrue(!csp.matches(".*script-src[^;]*unsafe-inline.*"), path + ": no inline script: " + csp);
            assertEquals("DENY", answer.headers().firstValue("X-Frame-Options").orElse(""), path);
            assertEquals("nosniff", answer.headers().firstValue("X-Content-Type-Options").orElse(""), path);
        }
        assertTrue(!get("/").body().matches("(?s).*<script>.*"), "the page has no inline script");
    }

    @Test
    void itListensOnLoopbackOnly() throws Exception {
        Optional<InetAddress> external = Collections.list(NetworkInterface.getNetworkInterfaces()).stream()
                .flatMap(i -> Collections.list(i.getInetAddresses()).stream())
                .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress()).findFirst();
        try (Socket local = new Socket()) {
            local.connect(new InetSocketAddress("127.0.0.1", httpPort), 2000);
        }
        assertTrue(external.isPresent(), "this machine has an address other than loopback to try");
        assertThrows(java.io.IOException.class, () -> {
            try (Socket remote = new Socket()) {
                remote.connect(new InetSocketAddress(external.get(), httpPort), 2000);
            }
        }, "not reachable on " + external.get());
    }
}
