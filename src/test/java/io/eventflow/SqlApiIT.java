package io.eventflow;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The change-log SQL API (migrations/R__*.sql: cursors, claims, batches, clean-up, wake-ups) checked
 * by its pgTAP suite, src/test/sql, on a database of its own migrated as EventFlow migrates it.
 */
class SqlApiIT {

    private static final Path SUITE = Path.of("src", "test", "sql");

    private record Run(int exitCode, String output) {
    }

    private static boolean onPath(String command) {
        String path = System.getenv("PATH");
        return path != null && Stream.of(path.split(File.pathSeparator))
                .filter(dir -> !dir.isEmpty())
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, command)));
    }

    private static List<String> suiteFiles() throws Exception {
        try (Stream<Path> files = Files.list(SUITE)) {
            return files.filter(file -> file.getFileName().toString().endsWith(".sql"))
                    .map(Path::toString)
                    .sorted()
                    .toList();
        }
    }

    private static void migrate(String database) throws Exception {
        TestServices.migrate(database);
        try (Connection c = TestServices.connect(database); Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION pgtap");
            s.execute("CREATE EXTENSION dblink");
        }
    }

    private static Run pgProve(String database, List<String> files) throws Exception {
        List<String> command = new ArrayList<>(List.of("pg_prove", "--verbose",
                "-h", TestServices.pgHost(), "-p", String.valueOf(TestServices.pgPort()),
                "-U", TestServices.pgUser(), "-d", database));
        command.addAll(files);
        Path output = Files.createTempFile("pg_prove", ".tap");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            if (!process.waitFor(5, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new AssertionError("pg_prove did not finish within 5 minutes:\n"
                        + Files.readString(output, StandardCharsets.UTF_8));
            }
            return new Run(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(output);
        }
    }

    @Test
    void everyPgTapTestPasses() throws Exception {
        assertTrue(onPath("pg_prove"), "pg_prove is not on the PATH: install the Debian packages postgresql-15-pgtap "
                + "and libtap-parser-sourcehandler-pgtap-perl (apt-get install postgresql-15-pgtap "
                + "libtap-parser-sourcehandler-pgtap-perl; .ci/run does)");
        List<String> files = suiteFiles();
        assertFalse(files.isEmpty(), "no pgTAP test in " + SUITE);

        String database = TestServices.uniqueName("eventflow_sql");
        TestServices.createDatabase(database);
        try {
            migrate(database);
            Run run = pgProve(database, files);
            System.out.println(run.output());
            assertEquals(0, run.exitCode(), "pg_prove failed:\n" + run.output());
            assertTrue(run.output().contains("Result: PASS"), "pg_prove did not pass:\n" + run.output());
        } finally {
            TestServices.dropDatabase(database);
        }
    }
}
