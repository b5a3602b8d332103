package io.eventflow;

/** EventFlow's own figures over JMX (object name {@code io.eventflow:type=Capture,name=<camel name>}). */
public interface CaptureStatsMBean {

    long getPublishedTotal();

    long getBacklog();

    double getLagSeconds();

    long getLastPublishedChangeId();

    /** Changes set aside unpublished (eventflow.failed_change). */
    long getFailedTotal();

    /** Incremental snapshots waiting or running (eventflow.snapshots). */
    long getSnapshotsOpen();

    /** Rows incremental snapshots have read (published as 'r' changes), over every snapshot asked for. */
    long getSnapshotRowsTotal();

    /** The running snapshot, as "schema.table: rows read of about rows_estimate"; empty when none runs. */
    String getSnapshotProgress();

    /** Capture steps that failed (a batch, the listener check, the clean-up) and were retried, since start. */
    long getCaptureFailures();

    /** When, where and why the last capture batch failed; empty if none did. */
    String getLastCaptureError();

    String getListenerState();

    long getListenerRestarts();

    /** ACTIVE: this instance holds the cursor and publishes; STANDBY: another instance holds it; STARTING. */
    String getCursorState();

    /** The instance that holds the cursor (eventflow.capture.holder of that instance). */
    String getCursorHolder();

    String getLastError();
}
