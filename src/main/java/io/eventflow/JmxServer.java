package io.eventflow;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.UnicastRemoteObject;
import java.util.Map;

import javax.management.remote.JMXConnectorServer;
import javax.management.remote.JMXConnectorServerFactory;
import javax.management.remote.JMXServiceURL;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remote JMX on one port (RMI registry and connector alike, so a single port can be published from
 * a container): {@code service:jmx:rmi:///jndi/rmi://<host>:<port>/jmxrmi}.
 */
public class JmxServer {

    private static final Logger LOG = LoggerFactory.getLogger(JmxServer.class);

    private final String host;
    private final int port;
    private Registry registry;
    private JMXConnectorServer server;

    public JmxServer(String host, int port) {
        this.host = host;
        this.port = port;
    }

    public void start() throws IOException {
        System.setProperty("java.rmi.server.hostname", host);
        registry = LocateRegistry.createRegistry(port);
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi://" + host + ":" + port + "/jndi/rmi://" + host + ":" + port + "/jmxrmi");
        server = JMXConnectorServerFactory.newJMXConnectorServer(url, Map.of(), ManagementFactory.getPlatformMBeanServer());
        server.start();
        LOG.info("JMX on service:jmx:rmi:///jndi/rmi://{}:{}/jmxrmi", host, port);
    }

    public void stop() {
        try {
            if (server != null) {
                server.stop();
            }
            if (registry != null) {
                UnicastRemoteObject.unexportObject(registry, true);
            }
        } catch (IOException e) {
            LOG.warn("Stopping JMX: {}", e.getMessage());
        }
    }
}
