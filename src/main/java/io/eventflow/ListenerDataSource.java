package io.eventflow;

import java.io.PrintWriter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.logging.Logger;

import javax.sql.DataSource;

import com.impossibl.postgres.api.jdbc.PGConnection;
import com.impossibl.postgres.api.jdbc.PGNotificationListener;

/**
 * The data source of the pgevent consumer. pgevent reconnects from its listener's {@code closed()}
 * callback and waits there for the new connection; the driver calls {@code closed()} on its only
 * I/O thread, which the new connection needs, so the reconnect hangs forever and every later
 * connection with it; and a reconnect that races a route restart leaves a second, orphaned
 * listener. This data source keeps {@code closed()} from pgevent and tells EventFlow's listener
 * check instead, which restarts the wake-up route (one clean LISTEN connection). Listener probes
 * go to the listener check with their sender's backend pid, which pgevent does not pass on; every
 * other notification (a wake-up) goes to pgevent, and everything else straight to the driver.
 */
public class ListenerDataSource implements DataSource {

    private final DataSource delegate;
    private final Runnable onClosed;
    private final WakeupListener probes;

    public ListenerDataSource(DataSource delegate, Runnable onClosed, WakeupListener probes) {
        this.delegate = delegate;
        this.onClosed = onClosed;
        this.probes = probes;
    }

    @Override
    public Connection getConnection() throws SQLException {
        return wrap(delegate.getConnection());
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        return wrap(delegate.getConnection(username, password));
    }

    private Connection wrap(Connection connection) throws SQLException {
        PGConnection pg = connection.unwrap(PGConnection.class);
        InvocationHandler handler = (proxy, method, args) -> {
            if (method.getName().equals("addNotificationListener") && args != null) {
                for (int i = 0; i < args.length; i++) {
                    if (args[i] instanceof PGNotificationListener listener) {
                        args[i] = withoutReconnect(listener);
                    }
                }
            }
            if (method.getName().equals("unwrap") || method.getName().equals("isWrapperFor")) {
                if (args[0] == PGConnection.class || args[0] == Connection.class) {
                    return method.getName().equals("unwrap") ? proxy : Boolean.TRUE;
                }
            }
            try {
                return method.invoke(pg, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {PGConnection.class}, handler);
    }

    private PGNotificationListener withoutReconnect(PGNotificationListener listener) {
        return new PGNotificationListener() {
            @Override
            public void notification(int processId, String channelName, String payload) {
                if (payload != null && payload.startsWith(WakeupListener.PROBE_PREFIX)) {
                    probes.probeReceived(processId, payload);
                } else {
                    listener.notification(processId, channelName, payload);
                }
            }

            @Override
            public void closed() {
                onClosed.run();
            }
        };
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
        return delegate.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
        delegate.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
        delegate.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
        return delegate.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        return delegate.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
        return delegate.unwrap(iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) throws SQLException {
        return delegate.isWrapperFor(iface);
    }
}
