# EventFlow image: built with the Maven wrapper, run as a non-root user on a JRE.
#   docker build -t eventflow .    (or: docker compose up --build)

FROM eclipse-temurin:17.0.15_6-jdk-jammy AS build
WORKDIR /src
COPY mvnw pom.xml ./
COPY .mvn .mvn
# dependencies first, so a source change does not download them again
RUN ./mvnw -B -q dependency:go-offline
COPY src src
RUN ./mvnw -B -q package -DskipTests

FROM eclipse-temurin:17.0.15_6-jre-jammy
RUN useradd --system --uid 10001 --home-dir /app eventflow
WORKDIR /app
COPY --from=build /src/target/eventflow.jar eventflow.jar
# what an operator edits (compose mounts routes/ and application.properties over these)
COPY application.properties ./
COPY routes routes
COPY migrations migrations
COPY demo demo
USER eventflow
# web demo, health and metrics on 8080, on every interface of the container (compose publishes it on the host's loopback)
EXPOSE 8080
# the JVM flags of bin/eventflow, which the benchmark measures (README: Benchmarks)
ENV EVENTFLOW_HTTP_HOST=0.0.0.0
ENV JAVA_OPTS="-XX:+UseSerialGC -XX:CICompilerCount=2 -Xms32m -Xmx1g -Xss512k -XX:MaxMetaspaceSize=128m -XX:ReservedCodeCacheSize=48m -Dio.netty.allocator.numDirectArenas=1 -Dio.netty.allocator.numHeapArenas=1 -XX:+ExitOnOutOfMemoryError" \
    MALLOC_ARENA_MAX=2
# on the HTTP port EventFlow listens on: EVENTFLOW_HTTP_PORT (eventflow.http.port) when set, else 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/${EVENTFLOW_HTTP_PORT:-8080} && printf "GET /observe/health/live HTTP/1.0\r\n\r\n" >&3 && head -1 <&3 | grep -q " 200 "'
ENTRYPOINT ["sh", "-c", "exec java $JAVA_OPTS -jar eventflow.jar"]
