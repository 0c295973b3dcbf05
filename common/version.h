/* pelkc's version, printed by --version and recorded in every compiled model. */
#ifndef PELK_VERSION_H
#define PELK_VERSION_H
#define PELKC_VERSION "0.3.0"
#endif
