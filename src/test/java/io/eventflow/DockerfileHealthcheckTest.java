package io.eventflow;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The image's HEALTHCHECK, run as Docker runs it (sh -c, the container's environment) against a
 * stand-in for EventFlow on the port EVENTFLOW_HTTP_PORT names: no Docker engine needed.
 */
class DockerfileHealthcheckTest {

    /** The HEALTHCHECK's command (shell form), its continuation lines joined. */
    private static String healthcheckCommand() throws IOException {
        String dockerfile = Files.readString(Path.of("Dockerfile")).replace("\\\n", " ");
        String line = dockerfile.lines().filter(l -> l.startsWith("HEALTHCHECK")).findFirst().orElseThrow();
        int cmd = line.indexOf(" CMD ");
        assertTrue(cmd > 0, "shell-form HEALTHCHECK ... CMD <command>: " + line);
        return line.substring(cmd + " CMD ".length()).trim();
    }

    /** Runs the healthcheck with EVENTFLOW_HTTP_PORT set to a port answering liveness with the given status. */
    private static int healthcheckAgainst(int liveStatus) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/observe/health/live", exchange -> {
            exchange.sendResponseHeaders(liveStatus, -1);
            exchange.close();
        });
        server.start();
        try {
            ProcessBuilder sh = new ProcessBuilder("sh", "-c", healthcheckCommand()).redirectErrorStream(true);
            sh.environment().put("EVENTFLOW_HTTP_PORT", String.valueOf(server.getAddress().getPort()));
            Process p = sh.start();
            p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "healthcheck finished");
            return p.exitValue();
        } finally {
            server.stop(0);
        }
    }

    @Test
    void healthyOnThePortEventFlowHttpPortNames() throws Exception {
        assertEquals(0, healthcheckAgainst(200));
    }

    @Test
    void unhealthyWhenLivenessIsDownThere() throws Exception {
        assertNotEquals(0, healthcheckAgainst(503));
    }
}
