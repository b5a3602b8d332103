package io.eventflow;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

import org.apache.camel.spi.PropertiesFunction;

/**
 * The {@code {{instance:host}}} and {@code {{instance:id}}} placeholders: this machine's host name
 * and a short random id drawn once per running EventFlow (per CamelContext), so that names that must
 * belong to one instance (its stream queue) are unique even where HOSTNAME is not exported (dash,
 * systemd) and still say in the RabbitMQ management UI where they come from. Camel finds it by its
 * name, through META-INF/services/org/apache/camel/properties-function/instance.
 */
public class InstancePropertiesFunction implements PropertiesFunction {

    /** Longest host name kept in a name: a queue name may have 255 bytes in all. */
    private static final int HOST_LENGTH = 63;

    private final String host = hostName();
    private final String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt(1 << 24)).substring(2);

    @Override
    public String getName() {
        return "instance";
    }

    @Override
    public String apply(String remainder) {
        return switch (remainder) {
            case "host" -> host;
            case "id" -> id;
            default -> throw new IllegalArgumentException("Unknown placeholder {{instance:" + remainder + "}}: host or id");
        };
    }

    /** The host name as the operating system has it, in the characters a queue name reads well with. */
    static String hostName() {
        String name;
        try {
            name = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            // a host name without an address: the environment's, if it has one (the random id keeps names unique)
            name = System.getenv().getOrDefault("HOSTNAME", System.getenv().getOrDefault("COMPUTERNAME", "localhost"));
        }
        name = name.replaceAll("[^A-Za-z0-9._-]", "-");
        if (name.isEmpty()) {
            name = "localhost";
        }
        return name.length() > HOST_LENGTH ? name.substring(0, HOST_LENGTH) : name;
    }
}
