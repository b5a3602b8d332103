package io.eventflow;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.RMIServerSocketFactory;
import java.rmi.server.UnicastRemoteObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.management.remote.JMXAuthenticator;
import javax.management.remote.JMXPrincipal;
import javax.security.auth.Subject;

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
 * and {@code host} is the address clients are told to come back to. Every connection must log in
 * with a user and password of the password file ({@code user password} per line, readable by its
 * owner only, as the JDK's own JMX agent requires): Camel's MBeans can change and run what
 * EventFlow runs.
 */
public class JmxServer {

    private static final Logger LOG = LoggerFactory.getLogger(JmxServer.class);

    private final String host;
    private final String bindAddress;
    private final int port;
    private final Path passwordFile;
    private Registry registry;
    private JMXConnectorServer server;

    public JmxServer(String host, String bindAddress, int port, Path passwordFile) {
        this.host = host;
        this.bindAddress = bindAddress;
        this.port = port;
        this.passwordFile = passwordFile;
    }

    /**
     * The users of the password file, checked as the JDK's agent checks its own: a file others can
     * read gives the passwords away, and is refused.
     */
    static Map<String, String> readPasswords(Path file) {
        if (file == null || file.toString().isBlank()) {
            throw new StartupFailure("remote JMX (eventflow.jmx.port) needs a password file: eventflow.jmx.password-file", null);
        }
        try {
            if (Files.getFileStore(file).supportsFileAttributeView(PosixFileAttributeView.class)) {
                Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
                for (PosixFilePermission open : List.of(PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ,
                        PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE)) {
                    if (permissions.contains(open)) {
                        throw new StartupFailure("eventflow.jmx.password-file " + file + " must be readable by its owner only (chmod 600)", null);
                    }
                }
            }
            Map<String, String> users = new HashMap<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String entry = line.strip();
                if (entry.isEmpty() || entry.startsWith("#")) {
                    continue;
                }
                String[] parts = entry.split("\\s+", 2);
                if (parts.length == 2) {
                    users.put(parts[0], parts[1]);
                }
            }
            if (users.isEmpty()) {
                throw new StartupFailure("eventflow.jmx.password-file " + file + " has no user (a line \"user password\")", null);
            }
            return users;
        } catch (IOException e) {
            throw new StartupFailure("cannot read eventflow.jmx.password-file " + file + ": " + e.getMessage(), e);
        }
    }

    public void start() throws IOException {
        Map<String, String> users = readPasswords(passwordFile);
        JMXAuthenticator authenticator = credentials -> {
            if (credentials instanceof String[] pair && pair.length == 2 && pair[0] != null && pair[1] != null
                    && users.containsKey(pair[0])
                    && MessageDigest.isEqual(pair[1].getBytes(StandardCharsets.UTF_8), users.get(pair[0]).getBytes(StandardCharsets.UTF_8))) {
                return new Subject(true, Set.of(new JMXPrincipal(pair[0])), Set.of(), Set.of());
            }
            LOG.warn("Remote JMX: a login was refused");
            throw new SecurityException("Authentication failed");
        };
        System.setProperty("java.rmi.server.hostname", host);
        InetAddress address = InetAddress.getByName(bindAddress);
        RMIServerSocketFactory sockets = p -> new ServerSocket(p, 50, address);
        registry = LocateRegistry.createRegistry(port, null, sockets);
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi://" + host + ":" + port + "/jndi/rmi://" + host + ":" + port + "/jmxrmi");
        server = JMXConnectorServerFactory.newJMXConnectorServer(url,
                Map.of(RMIConnectorServer.RMI_SERVER_SOCKET_FACTORY_ATTRIBUTE, sockets, JMXConnectorServer.AUTHENTICATOR, authenticator),
                ManagementFactory.getPlatformMBeanServer());
        server.start();
        LOG.info("JMX on service:jmx:rmi:///jndi/rmi://{}:{}/jmxrmi (listening on {}, {} users of {})", host, port, bindAddress,
                users.size(), passwordFile);
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
