# Placeholder until the production issue: a minimal image that serves /health.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
WORKDIR /app
RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY api ./api
COPY db ./db
COPY domain ./domain
ENV ISOCDS_HOST=0.0.0.0 ISOCDS_PORT=8000 PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
CMD ["python", "-m", "api"]
