FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
RUN pip install --no-cache-dir -c constraints.txt -e .
COPY . .
RUN DJANGO_SETTINGS_MODULE=alliance.settings.local python manage.py compilemessages --ignore=.venv -v0 \
 && DJANGO_SETTINGS_MODULE=alliance.settings.local python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "alliance.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
