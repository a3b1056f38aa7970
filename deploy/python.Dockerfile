# The examples/python apps (FastAPI back end, Flask front end) on Debian's
# packages, with the rotor binary for the one-shot client registration.
# Build from the repository root:
#   docker build -f deploy/python.Dockerfile -t rotor-python-examples .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rotor ./cmd/rotor

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3-jwt python3-cryptography python3-fastapi python3-uvicorn \
      python3-flask python3-authlib python3-requests \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home app \
    && install -d -o app -g app /run/rotor
COPY --from=build /out/rotor /usr/local/bin/rotor
COPY examples/python /app
WORKDIR /app
USER app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
CMD ["python3", "flask_app.py"]
