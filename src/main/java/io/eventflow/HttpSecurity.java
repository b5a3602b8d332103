package io.eventflow;

import java.net.URI;
import java.util.Set;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * What every answer of EventFlow's HTTP server carries, and what it refuses, before any route sees
 * the request: a Content-Security-Policy without inline script, no framing (clickjacking), no
 * content-type sniffing; and a request that changes something (POST, PUT, PATCH, DELETE) sent by a
 * page of another origin is refused with 403 before anything is written (a form posted from
 * another site, the browser telling so by Sec-Fetch-Site or Origin). A body larger than a form
 * needs is refused with 413 before it is read.
 */
public final class HttpSecurity {

    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            + "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    private static final Set<HttpMethod> CHANGING = Set.of(HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE);
    /** The largest request body taken (Vert.x's own limit for a form field, which it reports with a stack trace). */
    static final long MAX_BODY_BYTES = 8192;

    private HttpSecurity() {
    }

    /** Puts the handler first on the router, for every path. */
    public static void attach(Router router) {
        router.route().order(Integer.MIN_VALUE).handler(HttpSecurity::handle);
    }

    static void handle(RoutingContext ctx) {
        ctx.response()
                .putHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                .putHeader("X-Frame-Options", "DENY")
                .putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("Referrer-Policy", "same-origin");
        if (CHANGING.contains(ctx.request().method()) && crossOrigin(ctx.request().getHeader("Sec-Fetch-Site"),
                ctx.request().getHeader("Origin"), host(ctx))) {
            ctx.response().setStatusCode(403).putHeader("Content-Type", "text/plain; charset=utf-8")
                    .end("Refused: a request from another site may not change anything here.");
            return;
        }
        String length = ctx.request().getHeader("Content-Length");
        if (length != null && length.chars().allMatch(Character::isDigit) && !length.isEmpty()
                && (length.length() > 18 || Long.parseLong(length) > MAX_BODY_BYTES)) {
            ctx.response().setStatusCode(413).putHeader("Content-Type", "text/html; charset=utf-8")
                    .end("<p class=\"problem\">Too large: at most " + MAX_BODY_BYTES + " bytes are taken; nothing was changed.</p>");
            return;
        }
        ctx.next();
    }

    /** The host (and port) the request was sent to: the Host header, or HTTP/2's :authority. */
    private static String host(RoutingContext ctx) {
        HostAndPort authority = ctx.request().authority();
        if (authority == null) {
            return ctx.request().getHeader("Host");
        }
        return authority.port() < 0 ? authority.host() : authority.host() + ":" + authority.port();
    }

    /**
     * Whether the browser says the request comes from a page of another origin: Sec-Fetch-Site
     * (modern browsers) other than same-origin or none (typed, bookmarked), or else an Origin whose
     * host and port are not the Host the request was sent to. A request without either (curl, a
     * service) is not a browser's cross-site request.
     */
    static boolean crossOrigin(String fetchSite, String origin, String host) {
        if (fetchSite != null) {
            return !fetchSite.equals("same-origin") && !fetchSite.equals("none");
        }
        if (origin == null) {
            return false;
        }
        if (origin.equals("null") || host == null) {
            return true;
        }
        try {
            URI uri = URI.create(origin);
            String authority = uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
            String expected = host.contains(":") ? host : host + ":" + ("https".equals(uri.getScheme()) ? 443 : 80);
            String given = uri.getPort() < 0 ? authority + ":" + ("https".equals(uri.getScheme()) ? 443 : 80) : authority;
            return !given.equalsIgnoreCase(expected);
        } catch (IllegalArgumentException e) {
            return true;
        }
    }
}
