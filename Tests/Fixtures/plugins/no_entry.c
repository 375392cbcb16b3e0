/* Fixture: a valid shared library that exports no toolbridge_plugin_v1; the host must refuse it. */
int not_a_plugin(void);

int not_a_plugin(void) {
    return 42;
}
