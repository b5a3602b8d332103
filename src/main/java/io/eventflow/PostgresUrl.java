package io.eventflow;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A libpq connection URI ({@code postgresql://user:password@host:5432/db?sslmode=disable}, or the
 * {@code postgres://} scheme) taken apart for the two drivers EventFlow uses.
 */
public final class PostgresUrl {

    private final String host;
    private final int port;
    private final String database;
    private final String user;
    private final String password;
    private final Map<String, String> params;

    private PostgresUrl(String host, int port, String database, String user, String password, Map<String, String> params) {
        this.host = host;
        this.port = port;
        this.database = database;
        this.user = user;
        this.password = password;
        this.params = params;
    }

    public static PostgresUrl parse(String url) {
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("PostgreSQL connection string is empty: set PG_CONNECTION_STRING or eventflow.postgres.url");
        }
        URI uri;
        try {
            uri = new URI(url.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("PostgreSQL connection string is not a valid URI: " + e.getMessage());
        }
        String scheme = uri.getScheme();
        if (!"postgresql".equals(scheme) && !"postgres".equals(scheme)) {
            throw new IllegalArgumentException(
                    "PostgreSQL connection string must start with postgresql:// or postgres://, got scheme " + scheme);
        }
        if (uri.getHost() == null && uri.getRawAuthority() != null && !uri.getRawAuthority().endsWith("@")) {
            throw new IllegalArgumentException("PostgreSQL connection string has no valid host[:port]: " + uri.getRawAuthority()
                    .replaceAll(":[^@]*@", ":***@"));
        }
        String host = uri.getHost() == null ? "localhost" : uri.getHost();
        int port = uri.getPort() < 0 ? 5432 : uri.getPort();
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        String user = "postgres";
        String password = null;
        String userInfo = uri.getRawUserInfo();
        if (userInfo != null) {
            int colon = userInfo.indexOf(':');
            user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
            password = colon < 0 ? null : decode(userInfo.substring(colon + 1));
        }
        Map<String, String> params = new LinkedHashMap<>();
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                params.put(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
            }
        }
        user = params.getOrDefault("user", user);
        password = params.getOrDefault("password", password);
        String database = path.length() > 1 ? decode(path.substring(1)) : params.getOrDefault("dbname", user);
        return new PostgresUrl(host, port, database, user, password, params);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** The URL for the standard PostgreSQL JDBC driver. */
    public String jdbcUrl() {
        StringBuilder url = new StringBuilder("jdbc:postgresql://").append(host).append(':').append(port).append('/')
                .append(URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20"));
        String sslmode = params.get("sslmode");
        url.append("?sslmode=").append(sslmode == null ? "prefer" : sslmode);
        String connectTimeout = params.get("connect_timeout");
        if (connectTimeout != null) {
            url.append("&connectTimeout=").append(connectTimeout);
        }
        return url.toString();
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    public String database() {
        return database;
    }

    public String user() {
        return user;
    }

    public String password() {
        return password;
    }

    public String sslMode() {
        return params.getOrDefault("sslmode", "prefer");
    }

    /** The same address without the password, for logs and error messages. */
    @Override
    public String toString() {
        return "postgresql://" + user + "@" + host + ":" + port + "/" + database;
    }
}
