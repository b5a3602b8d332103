package io.eventflow;

/** EventFlow's own figures over JMX (object name {@code io.eventflow:type=Capture,name=<camel name>}). */
public interface CaptureStatsMBean {

    long getPublishedTotal();

    long getBacklog();

    double getLagSeconds();

    long getLastPublishedChangeId();

    String getListenerState();

    long getListenerRestarts();

    String getLastError();
}
