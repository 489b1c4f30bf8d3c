# One image for the issuer and the demo service; the command chooses:
#   issuer (default):  signet serve
#   demo service:      uvicorn app.demo:app --host 0.0.0.0 --port 8000
# Stages: `build` installs the two distributions users install (signet-jwt, signet-jwt-issuer)
# into a venv with pip; `moto` is the KMS emulator used by docker-compose.yml only; the last
# stage, `runtime` (the default target), copies the venv into a clean slim image: no pip, no
# compiler, non-root.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements.lock README.md LICENSE ./
COPY signet ./signet
COPY app ./app
COPY issuer ./issuer
# Exact versions from the lock; then the venv loses its installer (pip, setuptools). The issuer
# wheel's package is signet_issuer; /opt/signet/service/app names it `app` too, for the image's
# documented `uvicorn app.main:app` / `uvicorn app.demo:app` (PYTHONPATH below): the image's own
# directory, not site-packages.
RUN python -m venv /opt/signet \
 && /opt/signet/bin/pip install -c requirements.lock '.[verifier,kms,metrics]' ./issuer \
 && /opt/signet/bin/pip check \
 && /opt/signet/bin/pip uninstall --yes pip setuptools \
 && mkdir /opt/signet/service \
 && ln -s "$(/opt/signet/bin/python -c 'import pathlib, signet_issuer; print(pathlib.Path(signet_issuer.__file__).parent)')" \
      /opt/signet/service/app

# The KMS emulator for docker-compose.yml: moto's server started through the repo's
# launcher, which corrects the two ways stock moto 5.2.5 differs from AWS (see
# tests/support/moto_kms.py). Never part of a production deployment.
FROM python:3.11-slim-bookworm AS moto
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1
WORKDIR /srv/moto
COPY requirements.lock ./
RUN python -m venv /opt/moto \
 && /opt/moto/bin/pip install -c requirements.lock 'moto[server]==5.2.5'
COPY tests/__init__.py ./tests/
COPY tests/support/__init__.py tests/support/moto_kms.py ./tests/support/
USER 65534:65534
EXPOSE 5000
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 \
  CMD ["/opt/moto/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/moto-api/', timeout=2)"]
CMD ["/opt/moto/bin/python", "-m", "tests.support.moto_kms", "--host", "0.0.0.0", "--port", "5000"]

FROM python:3.11-slim-bookworm AS runtime
# The base image's pip and setuptools go too: nothing in this image installs anything.
RUN python -m pip uninstall --yes --disable-pip-version-check pip setuptools wheel \
 && groupadd --system --gid 10001 signet \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/signet --create-home \
      --shell /usr/sbin/nologin signet \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/signet/keys /var/lib/signet/clients
COPY --from=build /opt/signet /opt/signet
ENV PATH=/opt/signet/bin:$PATH \
    PYTHONPATH=/opt/signet/service \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SIGNET_HOST=0.0.0.0 \
    SIGNET_LOCAL_KEY_DIR=/var/lib/signet/keys
USER 10001:10001
WORKDIR /var/lib/signet
EXPOSE 8000
# Liveness of whichever service runs here, on SIGNET_PORT (8000 unless set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SIGNET_PORT', '8000'), timeout=2)"]
CMD ["signet", "serve"]
