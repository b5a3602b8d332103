package io.eventflow;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.RMIServerSocketFactory;
import java.rmi.server.UnicastRemoteObject;
import java.util.Map;

import javax.management.remote.JMXConnectorServer;
import javax.management.remote.JMXConnectorServerFactory;
import javax.management.remote.JMXServiceURL;
import javax.management.remote.rmi.RMIConnectorServer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remote JMX on one port (RMI registry and connector alike, so a single port can be published from
 * a container): {@code service:jmx:rmi:///jndi/rmi://<host>:<port>/jmxrmi}. It listens only on the
 * bind address (loopback by default; a container binds all interfaces and publishes the port),
 * and {@code host} is the address clients are told to come back to.
 */
public class JmxServer {

    private static final Logger LOG = LoggerFactory.getLogger(JmxServer.class);

    private final String host;
    private final String bindAddress;
    private final int port;
    private Registry registry;
    private JMXConnectorServer server;

    public JmxServer(String host, String bindAddress, int port) {
        this.host = host;
        this.bindAddress = bindAddress;
        this.port = port;
    }

    public void start() throws IOException {
        System.setProperty("java.rmi.server.hostname", host);
        InetAddress address = InetAddress.getByName(bindAddress);
        RMIServerSocketFactory sockets = p -> new ServerSocket(p, 50, address);
        registry = LocateRegistry.createRegistry(port, null, sockets);
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi://" + host + ":" + port + "/jndi/rmi://" + host + ":" + port + "/jmxrmi");
        server = JMXConnectorServerFactory.newJMXConnectorServer(url,
                Map.of(RMIConnectorServer.RMI_SERVER_SOCKET_FACTORY_ATTRIBUTE, sockets), ManagementFactory.getPlatformMBeanServer());
        server.start();
        LOG.info("JMX on service:jmx:rmi:///jndi/rmi://{}:{}/jmxrmi (listening on {})", host, port, bindAddress);
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
