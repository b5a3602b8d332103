package io.eventflow;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URISyntaxException;
import java.security.GeneralSecurityException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

import javax.management.ObjectName;

import javax.sql.DataSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.impossibl.postgres.jdbc.PGDataSource;
import com.rabbitmq.client.ConnectionFactory;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.eventflow.web.WebConfiguration;
import io.vertx.ext.web.Router;
import org.apache.camel.BindToRegistry;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpRouter;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.PropertyInject;
import org.apache.camel.StartupListener;
import org.apache.camel.main.MainConfigurationProperties;
import org.apache.camel.spi.CamelBeanPostProcessor;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.RouteWatcherReloadStrategy;
import org.apache.camel.support.service.ServiceSupport;
import io.micrometer.core.instrument.MeterRegistry;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.postgresql.util.PSQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/**
 * The beans the routes call, built from application.properties: the PostgreSQL pool (with the
 * Flyway migrations applied before any route starts), the LISTEN connection for wake-ups, the
 * RabbitMQ connection factory and the batch publisher.
 */
public class EventFlowConfiguration implements CamelConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(EventFlowConfiguration.class);
    public static final String APPLICATION_NAME = "eventflow";

    @PropertyInject("eventflow.postgres.url")
    private String postgresUrl;
    @PropertyInject("eventflow.postgres.pool-size")
    private int poolSize;
    @PropertyInject("eventflow.postgres.startup-timeout-ms")
    private long startupTimeoutMs;
    @PropertyInject("eventflow.rabbitmq.url")
    private String rabbitUrl;
    @PropertyInject("eventflow.rabbitmq.exchange")
    private String exchange;
    @PropertyInject("eventflow.rabbitmq.unrouted-exchange")
    private String unroutedExchange;
    @PropertyInject("eventflow.rabbitmq.confirm-timeout-ms")
    private long confirmTimeoutMs;
    @PropertyInject("eventflow.migrations.location")
    private String migrations;
    @PropertyInject("eventflow.demo.enabled")
    private boolean demoEnabled;
    @PropertyInject("eventflow.demo.directory")
    private String demoDirectory;
    @PropertyInject("eventflow.capture.cursor")
    private String cursor;
    @PropertyInject("camel.server.port")
    private int httpPort;
    @PropertyInject("camel.server.host")
    private String httpHost;
    @PropertyInject("eventflow.capture.holder")
    private String holder;
    @PropertyInject("eventflow.capture.retry-delay-ms")
    private long retryDelayMs;
    @PropertyInject("eventflow.capture.retry-max-delay-ms")
    private long retryMaxDelayMs;
    @PropertyInject("eventflow.capture.claim-renew-ms")
    private long claimRenewMs;
    @PropertyInject("eventflow.jmx.host")
    private String jmxHost;
    @PropertyInject("eventflow.jmx.bind-address")
    private String jmxBindAddress;
    @PropertyInject("eventflow.jmx.port")
    private int jmxPort;
    @PropertyInject(value = "eventflow.jmx.password-file", defaultValue = "")
    private String jmxPasswordFile;
    @PropertyInject("eventflow.health.max-lag-seconds")
    private double maxLagSeconds;
    @PropertyInject("eventflow.stats.interval-ms")
    private long statsIntervalMs;
    @PropertyInject("eventflow.event.values")
    private String eventValues;
    @PropertyInject("eventflow.event.decimal-handling")
    private String decimalHandling;
    @PropertyInject("eventflow.rabbitmq.max-message-bytes")
    private long maxMessageBytes;

    private final WakeupListener wakeupListener = new WakeupListener(1000);
    private final CaptureStats captureStats = new CaptureStats(wakeupListener);
    private final ObjectMapper eventJson = EventJson.mapper();
    private HikariDataSource pool;
    private CachingConnectionFactory rabbit;
    private final MainConfigurationProperties mainProperties;

    /** @param mainProperties camel-main's settings, to which the web demo adds its routes when it is on */
    public EventFlowConfiguration(MainConfigurationProperties mainProperties) {
        this.mainProperties = mainProperties;
    }

    /**
     * Registers EventFlow's MBean, opens remote JMX when a port is set, binds EventFlow's metrics once
     * Camel's Prometheus registry exists, and closes the pool and the broker connection when Camel
     * stops (after the routes have stopped).
     */
    @Override
    public void configure(CamelContext camelContext) throws Exception {
        ObjectName name = new ObjectName("io.eventflow:type=Capture,name=" + ObjectName.quote(camelContext.getName()));
        var mbeans = ManagementFactory.getPlatformMBeanServer();
        if (!mbeans.isRegistered(name)) {
            mbeans.registerMBean(captureStats, name);
        }
        checkHttpPort();
        captureStats.setRetryDelays(retryDelayMs, retryMaxDelayMs);
        captureStats.setClaimRenewMs(claimRenewMs);
        JmxServer jmx = jmxPort > 0 ? new JmxServer(jmxHost, jmxBindAddress, jmxPort,
                jmxPasswordFile.isBlank() ? null : Path.of(jmxPasswordFile)) : null;
        if (jmx != null) {
            jmx.start();
        }
        camelContext.addStartupListener((StartupListener) (context, alreadyStarted) -> {
            MeterRegistry registry = context.getRegistry().lookupByNameAndType("metricsRegistry", MeterRegistry.class);
            if (registry != null) {
                captureStats.bindTo(registry);
            }
            if (!alreadyStarted) {
                Router router = VertxPlatformHttpRouter.lookup(context, VertxPlatformHttpRouter.getRouterNameFromPort(httpPort));
                if (router != null) {
                    HttpSecurity.attach(router);
                }
            }
        });
        camelContext.addService(new ServiceSupport() {
            @Override
            protected void doStop() throws Exception {
                if (rabbit != null) {
                    rabbit.destroy();
                }
                if (pool != null) {
                    releaseCursor(pool);
                    pool.close();
                }
                if (jmx != null) {
                    jmx.stop();
                }
                if (mbeans.isRegistered(name)) {
                    mbeans.unregisterMBean(name);
                }
            }
        });
        if (demoEnabled) {
            // last: the demo's services stop before the broker connection and the pool above close
            addDemo(camelContext);
        }
    }

    /**
     * The web demo, only when eventflow.demo.enabled: its settings, its routes and its beans, all from
     * eventflow.demo.directory. With the demo off none of it is read, loaded or started.
     */
    private void addDemo(CamelContext camelContext) throws Exception {
        Path settings = demoSettings();
        camelContext.getPropertiesComponent().addLocation("file:" + settings);
        mainProperties.setRoutesIncludePattern(mainProperties.getRoutesIncludePattern() + ",file:" + demoDirectory + "/routes/*.camel.yaml");
        if (mainProperties.isRoutesReloadEnabled()) {
            // the demo's routes reload live as the product's do (camel-main watches one directory: routes/)
            RouteWatcherReloadStrategy reload = new RouteWatcherReloadStrategy(demoDirectory + "/routes", false);
            reload.setPattern(mainProperties.getRoutesReloadPattern());
            reload.setRemoveAllRoutes(false);
            camelContext.addService(reload);
        }
        CamelConfiguration demo = new WebConfiguration(this);
        CamelBeanPostProcessor beans = PluginHelper.getBeanPostProcessor(camelContext);
        beans.postProcessBeforeInitialization(demo, "webConfiguration");
        beans.postProcessAfterInitialization(demo, "webConfiguration");
        demo.configure(camelContext);
    }

    /**
     * The HTTP server (health, metrics, the web demo) binds its port after Camel has started, and
     * when the port is taken it only logs it: an instance without health would run and publish.
     * Checked first, so such a start stops before anything else.
     */
    private void checkHttpPort() {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(httpHost, httpPort));
        } catch (IOException e) {
            throw new StartupFailure("cannot listen on HTTP port " + httpPort + " (eventflow.http.port) of " + httpHost + ": "
                    + e.getMessage(), e);
        }
    }

    /** The web demo's settings file, or a StartupFailure when the demo is on without it. */
    private Path demoSettings() {
        Path settings = Path.of(demoDirectory, "demo.properties");
        if (!Files.isReadable(settings)) {
            throw new StartupFailure("the web demo is on (eventflow.demo.enabled) but " + settings
                    + " cannot be read: set eventflow.demo.directory, or eventflow.demo.enabled=false to run without the demo", null);
        }
        return settings;
    }

    /** RABBITMQ_URL as a URI, or a StartupFailure saying what is wrong with it. */
    private URI rabbitUri() {
        try {
            URI uri = URI.create(rabbitUrl.trim());
            // what the broker client itself refuses (scheme, port), refused here already
            new ConnectionFactory().setUri(uri);
            return uri;
        } catch (RuntimeException | GeneralSecurityException | URISyntaxException e) {
            throw new StartupFailure("RABBITMQ_URL / eventflow.rabbitmq.url is not a valid AMQP URI: " + e.getMessage(), e);
        }
    }

    @BindToRegistry(value = "dataSource", beanPostProcess = true)
    public DataSource dataSource() {
        PostgresUrl url;
        try {
            url = PostgresUrl.parse(postgresUrl);
        } catch (IllegalArgumentException e) {
            throw new StartupFailure(e.getMessage(), e);
        }
        // both connection strings, and the demo's files when it is on, are checked before anything connects (or waits for PostgreSQL)
        rabbitUri();
        if (demoEnabled) {
            demoSettings();
        }
        HikariConfig config = new HikariConfig();
        config.setPoolName("eventflow-postgres");
        config.setJdbcUrl(url.jdbcUrl());
        config.setUsername(url.user());
        config.setPassword(url.password());
        config.setMaximumPoolSize(poolSize);
        config.setMinimumIdle(1);
        // start even when PostgreSQL is down: the routes retry and the change log waits in the database
        config.setInitializationFailTimeout(-1);
        config.setConnectionTimeout(5000);
        Properties props = new Properties();
        props.setProperty("ApplicationName", APPLICATION_NAME);
        // EventFlow's own writes (its read position) may be lost in a crash: that only repeats events
        props.setProperty("options", "-c synchronous_commit=off -c plan_cache_mode=force_custom_plan");
        config.setDataSourceProperties(props);
        pool = new HikariDataSource(config);
        migrate(pool, url);
        checkCursor(pool);
        return pool;
    }

    /**
     * The cursor named by eventflow.capture.cursor must exist, and must not lie ahead of the database
     * (restored from another cluster): the capture routes would find nothing to publish, without a
     * word. eventflow.check_cursor says what is wrong and how to put it right.
     */
    private void checkCursor(DataSource dataSource) {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement check = connection.prepareStatement("SELECT eventflow.check_cursor(?)")) {
            check.setString(1, cursor);
            check.execute();
        } catch (SQLException e) {
            String reason = e instanceof PSQLException pg && pg.getServerErrorMessage() != null
                    ? pg.getServerErrorMessage().getMessage() : ChangePublisher.rootMessage(e);
            throw new StartupFailure("eventflow.capture.cursor: " + reason, e);
        }
    }

    /** A stopping instance gives its claim on the cursor up, so that a standby takes over at once. */
    private void releaseCursor(DataSource dataSource) {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement release = connection.prepareStatement("SELECT eventflow.release_cursor(?, ?)")) {
            release.setString(1, cursor);
            release.setString(2, holder);
            release.execute();
        } catch (SQLException | RuntimeException e) {
            LOG.info("Cursor {} not released ({}): a standby takes over when the claim runs out", cursor, ChangePublisher.rootMessage(e));
        }
    }

    private void migrate(DataSource dataSource, PostgresUrl url) {
        awaitPostgres(dataSource, url);
        LOG.info("Applying migrations from {} to {}", migrations, url);
        createSchemas(dataSource, url);
        try {
            var result = Flyway.configure()
                    .dataSource(dataSource)
                    .locations(migrations)
                    .schemas("eventflow")
                    .createSchemas(true)
                    .table("flyway_schema_history")
                    // the demo's table left the product's history (it has its own, below): the
                    // versions that created it in older installs are no longer among the files
                    .ignoreMigrationPatterns("*:missing")
                    .load()
                    .migrate();
            LOG.info("Schema at version {} ({} migrations applied)", result.targetSchemaVersion, result.migrationsExecuted);
            if (demoEnabled) {
                // the web demo's table, in its own schema with its own history: never a table of the database's applications
                var demo = Flyway.configure()
                        .dataSource(dataSource)
                        .locations("filesystem:" + demoDirectory + "/migrations")
                        .schemas("eventflow_demo")
                        .createSchemas(true)
                        .table("flyway_schema_history")
                        .load()
                        .migrate();
                LOG.info("Demo schema eventflow_demo at version {} ({} migrations applied)", demo.targetSchemaVersion, demo.migrationsExecuted);
            }
        } catch (FlywayException e) {
            throw new StartupFailure("could not apply the migrations of " + migrations + " to " + url + ": "
                    + ChangePublisher.rootMessage(e), e);
        }
    }

    /**
     * The schemas, created and committed before Flyway runs. Left to Flyway, it creates a schema in a
     * transaction on one connection and its history table in it on another; a statement that fails
     * there (a database whose statement_timeout is very short, say) sent it into retries that held
     * the start for minutes instead of ending it with one line.
     */
    private void createSchemas(DataSource dataSource, PostgresUrl url) {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE SCHEMA IF NOT EXISTS eventflow");
            if (demoEnabled) {
                statement.execute("CREATE SCHEMA IF NOT EXISTS eventflow_demo");
            }
        } catch (SQLException e) {
            throw new StartupFailure("could not apply the migrations of " + migrations + " to " + url + ": "
                    + ChangePublisher.rootMessage(e), e);
        }
    }

    /**
     * Migrations run before any route: when PostgreSQL is not there yet (a host that boots the
     * database after EventFlow), wait for it, saying so, up to eventflow.postgres.startup-timeout-ms.
     */
    private void awaitPostgres(DataSource dataSource, PostgresUrl url) {
        long deadline = System.nanoTime() + startupTimeoutMs * 1_000_000L;
        while (true) {
            try (Connection connection = dataSource.getConnection()) {
                return;
            } catch (SQLException e) {
                String reason = ChangePublisher.rootMessage(e);
                if (System.nanoTime() >= deadline) {
                    throw new StartupFailure("PostgreSQL is not reachable at " + url + " (eventflow.postgres.url, PG_CONNECTION_STRING) after "
                            + startupTimeoutMs / 1000 + " s: " + reason, e);
                }
                LOG.warn("Waiting for PostgreSQL at {}: {}", url, reason);
                try {
                    Thread.sleep(Math.min(2000, Math.max(1, startupTimeoutMs / 2)));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new StartupFailure("interrupted while waiting for PostgreSQL at " + url, interrupted);
                }
            }
        }
    }

    /** The LISTEN connection of the pgevent consumer (pgjdbc-ng driver). */
    @BindToRegistry("wakeupDataSource")
    public DataSource wakeupDataSource() {
        PostgresUrl url = PostgresUrl.parse(postgresUrl);
        PGDataSource ds = new PGDataSource();
        ds.setServerName(url.host());
        ds.setPort(url.port());
        ds.setDatabaseName(url.database());
        ds.setUser(url.user());
        if (url.password() != null) {
            ds.setPassword(url.password());
        }
        ds.setApplicationName(APPLICATION_NAME + "-listener");
        String ssl = url.sslMode();
        ds.setSslMode("disable".equals(ssl) || "prefer".equals(ssl) || "allow".equals(ssl) ? "disable" : ssl);
        return new ListenerDataSource(ds, wakeupListener::connectionLost, wakeupListener);
    }

    /** The publisher's broker connection: publisher confirms, used by changePublisher only. */
    @BindToRegistry("rabbitConnectionFactory")
    public CachingConnectionFactory rabbitConnectionFactory() {
        CachingConnectionFactory factory = connectionFactory(APPLICATION_NAME);
        factory.setPublisherConfirmType(CachingConnectionFactory.ConfirmType.SIMPLE);
        rabbit = factory;
        return factory;
    }

    /** A connection factory on eventflow.rabbitmq.url, its connection named for the broker's lists. */
    public CachingConnectionFactory connectionFactory(String connectionName) {
        CachingConnectionFactory factory = new CachingConnectionFactory();
        factory.setUri(rabbitUri());
        if (factory.getVirtualHost() == null || factory.getVirtualHost().isEmpty()) {
            // amqp://host:5672/ names the empty vhost; users mean the default one
            factory.setVirtualHost("/");
        }
        factory.setConnectionNameStrategy(cf -> connectionName);
        // a broker that does not answer fails the health check and the publish in seconds, not a minute
        factory.setConnectionTimeout(5000);
        factory.setChannelCacheSize(8);
        return factory;
    }

    @BindToRegistry("eventJson")
    public ObjectMapper eventJson() {
        return eventJson;
    }

    @BindToRegistry("changePublisher")
    public ChangePublisher changePublisher() {
        ChangePublisher publisher = new ChangePublisher(new RabbitTemplate(rabbit), eventJson, unroutedExchange, confirmTimeoutMs);
        publisher.declareQuietly(exchange);
        return publisher;
    }

    /** How column values are written (eventflow.event.values, eventflow.event.decimal-handling); checked at start. */
    @BindToRegistry("eventValues")
    public EventValues eventValues() {
        try {
            return new EventValues(() -> pool, eventValues, decimalHandling, maxMessageBytes);
        } catch (IllegalArgumentException e) {
            throw new StartupFailure(e.getMessage(), e);
        }
    }

    @BindToRegistry("wakeupListener")
    public WakeupListener wakeupListener() {
        return wakeupListener;
    }

    @BindToRegistry("captureStats")
    public CaptureStats captureStats() {
        return captureStats;
    }

    /** Readiness: DOWN while PostgreSQL cannot be read. */
    @BindToRegistry("postgresReadiness")
    public ReadinessCheck postgresReadiness() {
        double staleAfter = Math.max(5, 3 * statsIntervalMs / 1000.0);
        return new ReadinessCheck("postgres", () -> captureStats.secondsSinceRefresh() <= staleAfter ? null
                : "PostgreSQL unreachable: " + (captureStats.getLastError().isEmpty() ? "no answer yet" : captureStats.getLastError()));
    }

    /** Readiness: DOWN while RabbitMQ cannot be reached. */
    @BindToRegistry("rabbitmqReadiness")
    public ReadinessCheck rabbitmqReadiness() {
        return new ReadinessCheck("rabbitmq", () -> rabbit.createConnection().isOpen() ? null : "RabbitMQ connection is closed");
    }

    /**
     * Readiness: DOWN from the moment the LISTEN connection is found dead or doubled until a probe
     * sent after its restart has come back once. UP while STARTING: at process start nothing has
     * failed yet, and the first probe is judged within a listener-check interval.
     */
    @BindToRegistry("wakeupListenerReadiness")
    public ReadinessCheck wakeupListenerReadiness() {
        return new ReadinessCheck("wakeup-listener", () -> switch (wakeupListener.getState()) {
            case DEAD -> "wake-up listener is dead, restarting it";
            case DOUBLED -> "wake-up listener receives every notification twice, restarting it";
            case RESTARTING -> "wake-up listener restarted after a failure, no probe has come back since";
            case STARTING, UP -> null;
        });
    }

    /** Readiness: DOWN while the capture fails (a batch the broker refuses, say), with why. */
    @BindToRegistry("captureReadiness")
    public ReadinessCheck captureReadiness() {
        return new ReadinessCheck("capture", captureStats::captureProblem);
    }

    /**
     * Readiness of the cursor's claim: UP, with its state (ACTIVE publishes, STANDBY waits while
     * another instance holds the cursor) and the holder in the details.
     */
    @BindToRegistry("cursorReadiness")
    public ReadinessCheck cursorReadiness() {
        return new ReadinessCheck("cursor", () -> null, () -> java.util.Map.of("cursor", cursor, "state", captureStats.getCursorState(),
                "holder", captureStats.getCursorHolder()));
    }

    /** Readiness: DOWN while the oldest unpublished change is older than eventflow.health.max-lag-seconds. */
    @BindToRegistry("lagReadiness")
    public ReadinessCheck lagReadiness() {
        return new ReadinessCheck("capture-lag", () -> captureStats.getLagSeconds() <= maxLagSeconds ? null
                : String.format("lag %.1f s exceeds %.1f s (backlog %d)", captureStats.getLagSeconds(), maxLagSeconds,
                        captureStats.getBacklog()));
    }
}
