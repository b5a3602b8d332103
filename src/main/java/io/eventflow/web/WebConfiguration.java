package io.eventflow.web;

import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.eventflow.CaptureStats;
import io.eventflow.ChangePublisher;
import io.eventflow.EventFlowConfiguration;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import org.apache.camel.BeanInject;
import org.apache.camel.BindToRegistry;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.PropertyInject;
import org.apache.camel.StartupListener;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpRouter;
import org.apache.camel.support.service.ServiceSupport;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;

/**
 * The beans of the web demo (demo/routes/web.camel.yaml and demo/routes/stream.camel.yaml), added
 * by EventFlowConfiguration only while eventflow.demo.enabled: the stream's broker connection, the form
 * validator, the HTML fragments, the change cards, the stream's queue, the SSE hub and the status
 * strip. Once the HTTP server runs, the hub's GET /events handler and a 404 fragment for unknown
 * paths (405 for a known path asked with a method it does not take) are added to Camel's own
 * Vert.x router.
 */
public class WebConfiguration implements CamelConfiguration {

    /** A path parameter ({@code :id}) or wildcard ({@code *}) in a Vert.x route path. */
    private static final Pattern ROUTE_PATH_PARAMETER = Pattern.compile(":\\w+|\\*");

    @PropertyInject("eventflow.http.port")
    private int httpPort;
    @PropertyInject("eventflow.stream.exchange")
    private String exchange;
    @PropertyInject("eventflow.stream.enabled")
    private boolean streamEnabled;
    @PropertyInject("eventflow.stream.queue")
    private String streamQueue;
    @PropertyInject("eventflow.stream.binding-key")
    private String bindingKey;
    @PropertyInject("eventflow.stream.queue-expires-ms")
    private long queueExpiresMs;
    @PropertyInject("eventflow.stream.queue-max-length")
    private int queueMaxLength;
    @PropertyInject("eventflow.stream.replay-size")
    private int replaySize;
    @PropertyInject("eventflow.stream.client-buffer-bytes")
    private int clientBufferBytes;
    @PropertyInject("eventflow.stream.retry-ms")
    private long retryMs;
    @PropertyInject("eventflow.stream.replay-window-ms")
    private long replayWindowMs;
    @PropertyInject("eventflow.stream.card-body-bytes")
    private int cardBodyBytes;
    @PropertyInject("eventflow.stream.stats-interval-ms")
    private long statsIntervalMs;
    @PropertyInject("eventflow.stream.chart-samples")
    private int chartSamples;

    @BeanInject("changePublisher")
    private ChangePublisher publisher;
    @BeanInject("rabbitConnectionFactory")
    private CachingConnectionFactory publisherRabbit;
    @BeanInject("captureStats")
    private CaptureStats captureStats;

    private final EventFlowConfiguration product;
    private CachingConnectionFactory rabbit;
    private SseHub configuredHub;
    private StreamQueue queue;
    private boolean attached;

    /** @param product the product's configuration, whose broker settings the stream's connection uses */
    public WebConfiguration(EventFlowConfiguration product) {
        this.product = product;
    }

    @Override
    public void configure(CamelContext camelContext) throws Exception {
        // stopped after the routes, and before EventFlowConfiguration closes the broker connection
        camelContext.addService(new ServiceSupport() {
            @Override
            protected void doStop() {
                if (queue != null) {
                    queue.delete(rabbit);
                }
                if (rabbit != null) {
                    rabbit.destroy();
                }
            }
        });
        camelContext.addStartupListener((StartupListener) (context, alreadyStarted) -> {
            if (attached) {
                return;
            }
            attached = true;
            Router router = VertxPlatformHttpRouter.lookup(context, VertxPlatformHttpRouter.getRouterNameFromPort(httpPort));
            if (router == null) {
                throw new IllegalStateException("No platform-http router on port " + httpPort + ": is camel.server.enabled set?");
            }
            sseHub().attach(router, "/events");
            UserFragments fragments = userFragments();
            router.route().last().handler(ctx -> {
                String path = ctx.request().path();
                Set<String> allowed = allowedMethods(router, path);
                if (allowed.isEmpty()) {
                    ctx.response().setStatusCode(404).putHeader("Content-Type", "text/html; charset=utf-8")
                            .end(fragments.problem("Not found: " + path));
                } else {
                    String allow = String.join(", ", allowed);
                    ctx.response().setStatusCode(405).putHeader("Allow", allow).putHeader("Content-Type", "text/html; charset=utf-8")
                            .end(fragments.problem(ctx.request().method() + " is not allowed on " + path + " (" + allow + " are)."));
                }
            });
        });
    }

    /** The methods the router's routes take on a path (none: the path is unknown). */
    static Set<String> allowedMethods(Router router, String path) {
        Set<String> allowed = new TreeSet<>();
        for (Route route : router.getRoutes()) {
            Set<HttpMethod> methods = route.methods();
            if (route.getPath() != null && methods != null && pathPattern(route.getPath()).matcher(path).matches()) {
                methods.forEach(m -> allowed.add(m.name()));
            }
        }
        return allowed;
    }

    /** A Vert.x route path ({@code /users/:id}, {@code /static/*}) as a regex on request paths. */
    static Pattern pathPattern(String routePath) {
        String path = routePath.length() > 1 && routePath.endsWith("/") ? routePath.substring(0, routePath.length() - 1) : routePath;
        Matcher part = ROUTE_PATH_PARAMETER.matcher(path);
        StringBuilder regex = new StringBuilder();
        int from = 0;
        while (part.find()) {
            regex.append(Pattern.quote(path.substring(from, part.start()))).append(part.group().equals("*") ? ".*" : "[^/]+");
            from = part.end();
        }
        return Pattern.compile(regex.append(Pattern.quote(path.substring(from))).append("/?").toString());
    }

    /**
     * The stream's broker connection: a connection of its own, so that nothing the consumer does on
     * its channels (a late acknowledgement after a reconnect closes a channel, say) can touch the
     * channels the changes are published on.
     */
    @BindToRegistry("streamConnectionFactory")
    public synchronized CachingConnectionFactory streamConnectionFactory() {
        if (rabbit == null) {
            rabbit = product.connectionFactory(EventFlowConfiguration.APPLICATION_NAME + "-stream");
        }
        return rabbit;
    }

    @BindToRegistry("userForm")
    public UserForm userForm() {
        return new UserForm();
    }

    @BindToRegistry("userFragments")
    public UserFragments userFragments() {
        return new UserFragments();
    }

    @BindToRegistry("changeCard")
    public ChangeCard changeCard() {
        return new ChangeCard(cardBodyBytes);
    }

    @BindToRegistry("sseHub")
    public synchronized SseHub sseHub() {
        if (configuredHub == null) {
            configuredHub = new SseHub(replaySize, clientBufferBytes, retryMs, replayWindowMs);
        }
        return configuredHub;
    }

    @BindToRegistry("streamQueue")
    public StreamQueue streamQueue() {
        StreamQueue declared = new StreamQueue(exchange, streamQueue, bindingKey, queueExpiresMs, queueMaxLength);
        if (streamEnabled) {
            publisher.tapTo(exchange);
            declared.register(streamConnectionFactory());
            // declared on the publisher's connection too: after a broker restart, the queue is back
            // before the first change is published again, even if the stream reconnects later
            declared.register(publisherRabbit);
            queue = declared;
        }
        return declared;
    }

    @BindToRegistry("statusStrip")
    public StatusStrip statusStrip() {
        return new StatusStrip(captureStats, chartSamples, statsIntervalMs);
    }
}
