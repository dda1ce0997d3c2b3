from services.console.adapters.tables import metadata
from services.runtime import migrations_env

migrations_env.run(metadata)
