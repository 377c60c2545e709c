# dualkey_module(): one static library per module under src/, in layer order.
#
#   dualkey_module(NAME LAYER layer [DIR dir] [USES module...]
#                  [SOURCES file...] [EXCLUDE regex...] [EXTRA file...])
#
# A module may use only the modules it names in USES (and, through them,
# what they use), all declared before it, in a layer at or below its own:
# the graph has no cycle by construction. The build enforces it: a module's
# sources are compiled against a "fence", an include directory holding its
# own folder and the public headers (not internal/) of what it may use, and
# nothing else from src/. An #include against the layer order, or of another
# module's internal/, fails to compile; a call into a module not in the
# closure fails to link. docs/architecture.md draws the graph.
set(DUALKEY_LAYERS foundation services adapters decision effectors client frontends operations cli)
set_property(GLOBAL PROPERTY DUALKEY_MODULES "")

function(dualkey_module name)
  cmake_parse_arguments(M "" "LAYER;DIR" "USES;SOURCES;EXCLUDE;EXTRA" ${ARGN})
  string(REPLACE "/" "_" id ${name})
  if(NOT M_DIR)
    set(M_DIR ${name})
  endif()
  list(FIND DUALKEY_LAYERS "${M_LAYER}" layer_index)
  if(layer_index EQUAL -1)
    message(FATAL_ERROR "module ${name}: LAYER must be one of ${DUALKEY_LAYERS}")
  endif()
  get_property(declared GLOBAL PROPERTY DUALKEY_MODULES)
  set(closure "")
  set(link_targets "")
  foreach(dep ${M_USES})
    if(NOT dep IN_LIST declared)
      message(FATAL_ERROR "module ${name} uses ${dep}, which is not declared before it: "
                          "a module may only use modules below it (reorder, or move the code)")
    endif()
    string(REPLACE "/" "_" dep_id ${dep})
    get_property(dep_layer GLOBAL PROPERTY DUALKEY_LAYER_${dep_id})
    if(dep_layer GREATER layer_index)
      list(GET DUALKEY_LAYERS ${dep_layer} dep_layer_name)
      message(FATAL_ERROR "module ${name} (layer ${M_LAYER}) uses ${dep} (layer ${dep_layer_name}): "
                          "an edge against the layer order")
    endif()
    get_property(dep_closure GLOBAL PROPERTY DUALKEY_CLOSURE_${dep_id})
    list(APPEND closure ${dep} ${dep_closure})
    list(APPEND link_targets dualkey_${dep_id})
  endforeach()
  list(REMOVE_DUPLICATES closure)
  set_property(GLOBAL PROPERTY DUALKEY_CLOSURE_${id} "${closure}")
  set_property(GLOBAL PROPERTY DUALKEY_LAYER_${id} ${layer_index})
  set_property(GLOBAL PROPERTY DUALKEY_DIR_${id} ${M_DIR})
  set_property(GLOBAL APPEND PROPERTY DUALKEY_MODULES ${name})

  set(src_dir ${PROJECT_SOURCE_DIR}/src/${M_DIR})
  if(M_SOURCES)
    list(TRANSFORM M_SOURCES PREPEND ${src_dir}/ OUTPUT_VARIABLE sources)
  else()
    file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${src_dir}/*.cc)
    foreach(pattern ${M_EXCLUDE})
      list(FILTER sources EXCLUDE REGEX "${pattern}")
    endforeach()
  endif()
  add_library(dualkey_${id} STATIC ${sources} ${M_EXTRA})

  # The fence: own folder whole, the closure's public headers one by one.
  set(fence ${CMAKE_BINARY_DIR}/fence/${id})
  file(REMOVE_RECURSE ${fence})
  get_filename_component(own_parent ${fence}/${M_DIR} DIRECTORY)
  file(MAKE_DIRECTORY ${own_parent})
  file(CREATE_LINK ${src_dir} ${fence}/${M_DIR} SYMBOLIC)
  foreach(dep ${closure})
    string(REPLACE "/" "_" dep_id ${dep})
    get_property(dep_dir GLOBAL PROPERTY DUALKEY_DIR_${dep_id})
    if(dep_dir STREQUAL M_DIR)
      continue()
    endif()
    file(GLOB headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${dep_dir}/*.h)
    file(MAKE_DIRECTORY ${fence}/${dep_dir})
    foreach(header ${headers})
      get_filename_component(header_name ${header} NAME)
      file(CREATE_LINK ${header} ${fence}/${dep_dir}/${header_name} SYMBOLIC)
    endforeach()
  endforeach()
  target_include_directories(dualkey_${id} PRIVATE ${fence})
  target_link_libraries(dualkey_${id} PUBLIC dualkey_common ${link_targets})
  target_compile_options(dualkey_${id} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  target_compile_definitions(dualkey_${id} PRIVATE DUALKEY_VERSION="${PROJECT_VERSION}")
endfunction()
