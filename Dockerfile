# One image for the issuer (default command) and, later, the demo service.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY signet ./signet
COPY app ./app
RUN python -m venv /opt/signet \
 && /opt/signet/bin/pip install --no-cache-dir -c requirements.lock '.[issuer]'

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/signet --create-home signet
COPY --from=build /opt/signet /opt/signet
ENV PATH=/opt/signet/bin:$PATH \
    SIGNET_HOST=0.0.0.0 \
    SIGNET_LOCAL_KEY_DIR=/var/lib/signet/keys
USER signet
WORKDIR /var/lib/signet
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["signet", "serve"]
